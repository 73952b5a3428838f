use super::Experiment;

pub(super) fn experiments() -> Vec<Experiment> {
    vec![]
}
