"""Times the scipy/NumPy peers of bench/PEERS.md on this machine, so that `linflow bench` can be
compared in one sitting: W1 (solve_ivp DOP853 and RK45, rtol 1e-10, atol 1e-12, t1 = 10), W3
(DOP853, rtol 1e-9, atol 1e-12, t1 = 2000) and W4 (a NumPy GD loop, 1e5 steps). Same inputs, same
right-hand side algorithm as the specs. Usage: python3 bench/peers_scipy.py [--reps 5]"""
import json, sys, time, pathlib
import numpy as np
from scipy.integrate import solve_ivp

HERE = pathlib.Path(__file__).parent
REPS = int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else 5


def timed(f):
    f()
    ts = []
    for _ in range(REPS):
        s = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - s)
    ts.sort()
    return ts[len(ts) // 2], ts[0], out


def deep(path):
    d = json.load(open(path))
    phi = np.array(d["Phi"])
    ws = [np.array(w) for w in d["Ws"]]
    shapes = [w.shape for w in ws]
    sizes = [w.size for w in ws]

    def unpack(y):
        out, k = [], 0
        for s, n in zip(shapes, sizes):
            out.append(y[k:k + n].reshape(s))
            k += n
        return out

    def grads(w):
        p = [w[0]]
        for j in range(1, len(w)):
            p.append(w[j] @ p[-1])
        a = p[-1] - phi
        g = [None] * len(w)
        for j in range(len(w) - 1, -1, -1):
            g[j] = a @ p[j - 1].T if j > 0 else a
            a = w[j].T @ a
        return g

    def loss(w):
        p = w[0]
        for j in range(1, len(w)):
            p = w[j] @ p
        return 0.5 * np.sum((p - phi) ** 2)

    y0 = np.concatenate([w.ravel() for w in ws])
    return y0, unpack, grads, loss


def w1(size, method):
    y0, unpack, grads, loss = deep(HERE / f"inputs/W1_{size}.json")
    rhs = lambda t, y: -np.concatenate([g.ravel() for g in grads(unpack(y))])
    med, mn, sol = timed(lambda: solve_ivp(rhs, (0.0, 10.0), y0, method=method, rtol=1e-10, atol=1e-12))
    return med, mn, sol.nfev, loss(unpack(sol.y[:, -1]))


def w3():
    d = json.load(open(HERE / "inputs/W3.json"))
    X, y, a, n = np.array(d["X"]), np.array(d["y"]), d["alpha"], d["n"]
    dim = X.shape[1]

    def rhs(t, s):
        u, v = s[:dim], s[dim:]
        g = X.T @ (X @ (u * u - v * v) - y) / n
        return np.concatenate([-2 * u * g, 2 * v * g])

    s0 = np.full(2 * dim, a)
    med, mn, sol = timed(lambda: solve_ivp(rhs, (0.0, 2000.0), s0, method="DOP853", rtol=1e-9, atol=1e-12))
    u, v = sol.y[:dim, -1], sol.y[dim:, -1]
    b = u * u - v * v
    return med, mn, sol.nfev, 0.5 * np.mean((X @ b - y) ** 2)


def w4(size):
    y0, unpack, grads, loss = deep(HERE / f"inputs/W1_{size}.json")

    def run():
        w = [m.copy() for m in unpack(y0)]
        for _ in range(100_000):
            g = grads(w)
            for j in range(len(w)):
                w[j] -= 0.05 * g[j]
        return w

    med, mn, w = timed(run) if REPS <= 1 else (lambda r: r)(timed(run))
    return med, mn, 100_000, loss(w)


rows = []
for size in ["w8", "w32", "w128"]:
    rows.append(("W1", size, "scipy DOP853", *w1(size, "DOP853")))
rows.append(("W3", "n40_d200", "scipy DOP853", *w3()))
REPS = 1
for size in ["w32", "w8"]:
    rows.append(("W4", size, "numpy GD loop", *w4(size)))
print("| workload | size | peer | wall median s | wall min s | rhs evals | final loss |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.4f} | {r[4]:.4f} | {r[5]} | {r[6]:.9e} |")
