//! Spreading the partitions of a sink's topics over its tasks (rskafka has no consumer groups,
//! so the worker assigns them itself).

use connect_core::record::TopicPartition;

use crate::connector_config::TopicSelection;

/// The partitions each of `tasks` tasks reads: every matching partition ([`partitions_of`]),
/// dealt round-robin, so the split is even and stable for the same inputs.
pub fn assign(
    topics: &[(String, Vec<i32>)],
    selection: &TopicSelection,
    tasks: usize,
) -> Vec<Vec<TopicPartition>> {
    let mut assignment = vec![Vec::new(); tasks.max(1)];
    let count = assignment.len();
    for (i, p) in partitions_of(topics, selection).into_iter().enumerate() {
        assignment[i % count].push(p);
    }
    assignment
}

/// Every partition of the topics in `topics` that `selection` names, sorted by topic and
/// partition: all that a sink reads.
pub fn partitions_of(
    topics: &[(String, Vec<i32>)],
    selection: &TopicSelection,
) -> Vec<TopicPartition> {
    let mut partitions: Vec<TopicPartition> = topics
        .iter()
        .filter(|(name, _)| selection.matches(name))
        .flat_map(|(name, ps)| {
            ps.iter()
                .map(move |p| TopicPartition::new(name.as_str(), *p))
        })
        .collect();
    partitions.sort();
    partitions
}

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::*;

    fn topics() -> Vec<(String, Vec<i32>)> {
        vec![
            ("orders".into(), vec![1, 0, 2]),
            ("users".into(), vec![0]),
            ("orders-eu".into(), vec![0, 1]),
        ]
    }

    #[test]
    fn named_topics_are_dealt_round_robin() {
        let a = assign(
            &topics(),
            &TopicSelection::Names(vec!["orders".into(), "users".into()]),
            2,
        );
        assert_eq!(
            a,
            vec![
                vec![
                    TopicPartition::new("orders", 0),
                    TopicPartition::new("orders", 2)
                ],
                vec![
                    TopicPartition::new("orders", 1),
                    TopicPartition::new("users", 0)
                ],
            ]
        );
    }

    #[test]
    fn a_pattern_matches_whole_names_and_extra_tasks_get_nothing() {
        let re = TopicSelection::Pattern(Regex::new("orders.*").unwrap());
        let a = assign(&topics(), &re, 8);
        assert_eq!(a.iter().map(Vec::len).sum::<usize>(), 5);
        assert_eq!(a.len(), 8);
        let exact = TopicSelection::Pattern(Regex::new("order").unwrap());
        assert!(assign(&topics(), &exact, 1)[0].is_empty());
    }
}
