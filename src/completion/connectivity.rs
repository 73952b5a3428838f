//! The observation mask of a completion problem as a bipartite graph.
//!
//! The vertices are the `m` rows and the `n` columns of the matrix; every observed entry $(i, j)$
//! is an edge between row $i$ and column $j$. The mask is *connected* when this graph is: every
//! row and every column can be reached from every other by a chain of observed entries, each
//! step sharing a row or a column. A row or column without any observed entry is a component of
//! its own (an isolated vertex), so such a mask is disconnected.
//!
//! A component is *complete bipartite* when every entry in its rows × columns is observed; Bai,
//! Zhao and Zhang show that disconnected masks whose components are complete bipartite lead small
//! initialization to a minimum nuclear norm completion rather than a minimum rank one.
//!
//! ```
//! use linflow::completion::connectivity::{classify, Connectivity};
//! // Observed: the top-left 2×2 block and the bottom-right entry of a 3×3 matrix.
//! let mask = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2)];
//! assert_eq!(classify((3, 3), &mask).unwrap(), Connectivity::Disconnected { components: 2 });
//! ```

use crate::error::{Error, Result};
use crate::model::Loss;
use crate::scalar::Scalar;
use serde::{Deserialize, Serialize};

/// One connected component of the mask graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// Its rows, increasing.
    pub rows: Vec<usize>,
    /// Its columns, increasing.
    pub cols: Vec<usize>,
    /// Number of distinct observed entries inside it.
    pub observed: usize,
}

impl Component {
    /// Whether every entry of `rows × cols` is observed (an isolated row or column, with no
    /// entries at all, is not).
    pub fn is_complete_bipartite(&self) -> bool {
        !self.rows.is_empty() && !self.cols.is_empty() && self.observed == self.rows.len() * self.cols.len()
    }
}

/// Whether the mask graph is connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Connectivity {
    /// One component containing every row and every column.
    Connected,
    /// Several components.
    Disconnected {
        /// How many.
        components: usize,
    },
}

/// The mask of a `rows × cols` completion problem as a bipartite graph, split into components.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskGraph {
    /// `(rows, cols)` of the matrix.
    pub shape: (usize, usize),
    /// The components, ordered by their smallest vertex (rows before columns).
    pub components: Vec<Component>,
}

impl MaskGraph {
    /// Builds the graph of the observed positions `entries` (duplicates allowed) of a
    /// `shape.0 × shape.1` matrix.
    pub fn new(shape: (usize, usize), entries: &[(usize, usize)]) -> Result<Self> {
        let (m, n) = shape;
        if m == 0 || n == 0 {
            return Err(Error::invalid("shape", format!("a mask needs at least one row and one column, got {m}x{n}")));
        }
        if let Some(&(i, j)) = entries.iter().find(|(i, j)| *i >= m || *j >= n) {
            return Err(Error::dim("mask entry", format!("indices below {m}x{n}"), format!("({i}, {j})")));
        }
        // Union-find over m + n vertices: row i is vertex i, column j is vertex m + j.
        let mut parent: Vec<usize> = (0..m + n).collect();
        fn root(parent: &mut [usize], mut v: usize) -> usize {
            while parent[v] != v {
                parent[v] = parent[parent[v]];
                v = parent[v];
            }
            v
        }
        for &(i, j) in entries {
            let (a, b) = (root(&mut parent, i), root(&mut parent, m + j));
            if a != b {
                parent[a.max(b)] = a.min(b);
            }
        }
        let mut index = vec![usize::MAX; m + n];
        let mut components: Vec<Component> = Vec::new();
        for v in 0..m + n {
            let r = root(&mut parent, v);
            if index[r] == usize::MAX {
                index[r] = components.len();
                components.push(Component { rows: vec![], cols: vec![], observed: 0 });
            }
            let c = &mut components[index[r]];
            if v < m {
                c.rows.push(v);
            } else {
                c.cols.push(v - m);
            }
        }
        let mut distinct: Vec<(usize, usize)> = entries.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        for (i, _) in distinct {
            let r = root(&mut parent, i);
            components[index[r]].observed += 1;
        }
        Ok(MaskGraph { shape, components })
    }

    /// The graph of the observed entries of a completion loss; any other loss is an error.
    pub fn of_loss<S: Scalar>(loss: &Loss<S>) -> Result<Self> {
        match loss {
            Loss::Completion { shape, entries, .. } => {
                let pos: Vec<(usize, usize)> = entries.iter().map(|(i, j, _)| (*i, *j)).collect();
                Self::new(*shape, &pos)
            }
            _ => Err(Error::invalid("loss", "mask connectivity is defined for a completion loss only")),
        }
    }

    /// Connected or not.
    pub fn connectivity(&self) -> Connectivity {
        match self.components.len() {
            1 => Connectivity::Connected,
            k => Connectivity::Disconnected { components: k },
        }
    }

    /// Whether every component is complete bipartite.
    pub fn all_complete_bipartite(&self) -> bool {
        self.components.iter().all(Component::is_complete_bipartite)
    }
}

/// Connectivity of the mask `entries` of a `shape.0 × shape.1` matrix.
pub fn classify(shape: (usize, usize), entries: &[(usize, usize)]) -> Result<Connectivity> {
    Ok(MaskGraph::new(shape, entries)?.connectivity())
}
