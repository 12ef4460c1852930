//! What `POST /connectors/{name}/restart?includeTasks=&onlyFailed=` restarts (KIP-745), decided
//! as Kafka Connect's `RestartRequest` and `AbstractHerder.buildRestartPlan` decide it.

use super::ConnectorStateInfo;
use crate::status::State;

/// The instances a restart request restarts, and how it is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RestartPlan {
    /// The connector instance restarts.
    pub connector: bool,
    /// The tasks that restart, by index.
    pub tasks: Vec<usize>,
    /// `false` for the restart before KIP-745 (both flags false): 204 without a body;
    /// otherwise 202 with the status, the restarting instances as RESTARTING.
    pub answers_status: bool,
}

impl RestartPlan {
    /// The plan for a connector in state `connector` whose tasks are in `tasks` (by index).
    /// The connector restarts unless `only_failed` and it has not failed; a task restarts
    /// with `include_tasks`, unless `only_failed` and it has not failed.
    pub fn new(include_tasks: bool, only_failed: bool, connector: State, tasks: &[State]) -> Self {
        let restarts = |state: State| !only_failed || state == State::Failed;
        Self {
            connector: restarts(connector),
            tasks: tasks
                .iter()
                .enumerate()
                .filter(|(_, state)| include_tasks && restarts(**state))
                .map(|(index, _)| index)
                .collect(),
            answers_status: include_tasks || only_failed,
        }
    }

    /// The 202 body: `status` with the instances that restart as RESTARTING; `None` for 204.
    pub fn answer(&self, mut status: ConnectorStateInfo) -> Option<ConnectorStateInfo> {
        if !self.answers_status {
            return None;
        }
        if self.connector {
            status.connector.state = State::Restarting.name();
        }
        for task in &mut status.tasks {
            if self.tasks.contains(&task.id) {
                task.state.state = State::Restarting.name();
            }
        }
        Some(status)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ConnectorType, StateInfo, TaskState};
    use super::*;

    use State::{Failed, Running};

    /// (include_tasks, only_failed, connector state, task states) → (connector restarts,
    /// tasks restarting, HTTP status of the answer).
    type Case = (
        bool,
        bool,
        State,
        &'static [State],
        bool,
        &'static [usize],
        u16,
    );

    /// Every combination of the flags and of failed or healthy instances.
    #[test]
    fn the_whole_kip_745_matrix() {
        const HEALTHY: &[State] = &[Running, Running, Running];
        const ONE_FAILED: &[State] = &[Running, Failed, Running];
        let cases: [Case; 16] = [
            // Both false: the connector alone, whatever its state (204).
            (false, false, Running, HEALTHY, true, &[], 204),
            (false, false, Running, ONE_FAILED, true, &[], 204),
            (false, false, Failed, HEALTHY, true, &[], 204),
            (false, false, Failed, ONE_FAILED, true, &[], 204),
            // onlyFailed: the connector if it failed, never a task.
            (false, true, Running, HEALTHY, false, &[], 202),
            (false, true, Running, ONE_FAILED, false, &[], 202),
            (false, true, Failed, HEALTHY, true, &[], 202),
            (false, true, Failed, ONE_FAILED, true, &[], 202),
            // includeTasks: the connector and every task.
            (true, false, Running, HEALTHY, true, &[0, 1, 2], 202),
            (true, false, Running, ONE_FAILED, true, &[0, 1, 2], 202),
            (true, false, Failed, HEALTHY, true, &[0, 1, 2], 202),
            (true, false, Failed, ONE_FAILED, true, &[0, 1, 2], 202),
            // Both: the failed ones only.
            (true, true, Running, HEALTHY, false, &[], 202),
            (true, true, Running, ONE_FAILED, false, &[1], 202),
            (true, true, Failed, HEALTHY, true, &[], 202),
            (true, true, Failed, ONE_FAILED, true, &[1], 202),
        ];
        for (
            include_tasks,
            only_failed,
            connector,
            tasks,
            restarts_connector,
            restarts_tasks,
            code,
        ) in cases
        {
            let plan = RestartPlan::new(include_tasks, only_failed, connector, tasks);
            let case = format!(
                "includeTasks={include_tasks} onlyFailed={only_failed} connector {connector:?} tasks {tasks:?}"
            );
            assert_eq!(plan.connector, restarts_connector, "{case}");
            assert_eq!(plan.tasks, restarts_tasks, "{case}");
            let answer = plan.answer(status(connector, tasks));
            assert_eq!(answer.is_some(), code == 202, "{case}");
            if let Some(body) = answer {
                let restarting = |state: &StateInfo| state.state == "RESTARTING";
                assert_eq!(restarting(&body.connector), restarts_connector, "{case}");
                let shown: Vec<usize> = body
                    .tasks
                    .iter()
                    .filter(|t| restarting(&t.state))
                    .map(|t| t.id)
                    .collect();
                assert_eq!(shown, restarts_tasks, "{case}");
            }
        }
    }

    #[test]
    fn tasks_that_are_not_running_count_as_not_failed() {
        use State::{Paused, Unassigned};
        let tasks = [Unassigned, Paused, Failed];
        assert_eq!(
            RestartPlan::new(true, true, Paused, &tasks),
            RestartPlan {
                connector: false,
                tasks: vec![2],
                answers_status: true
            }
        );
        assert_eq!(
            RestartPlan::new(true, false, Paused, &tasks).tasks,
            [0, 1, 2]
        );
        assert!(RestartPlan::new(true, false, Running, &[]).tasks.is_empty());
    }

    fn status(connector: State, tasks: &[State]) -> ConnectorStateInfo {
        let state = |state: State| StateInfo {
            state: state.name(),
            worker_id: "w:8083".into(),
            trace: (state == Failed).then(|| "boom".to_owned()),
        };
        ConnectorStateInfo {
            name: "c".into(),
            connector: state(connector),
            tasks: tasks
                .iter()
                .enumerate()
                .map(|(id, s)| TaskState {
                    id,
                    state: state(*s),
                })
                .collect(),
            kind: ConnectorType::Sink,
        }
    }

    #[test]
    fn the_202_body_shows_what_restarts_as_restarting_and_keeps_the_rest() {
        let tasks = [Running, Failed, Running];
        let plan = RestartPlan::new(true, true, Running, &tasks);
        let body = plan
            .answer(status(Running, &tasks))
            .expect("onlyFailed answers 202 with the status");
        let states: Vec<&str> = body.tasks.iter().map(|t| t.state.state).collect();
        assert_eq!(body.connector.state, "RUNNING");
        assert_eq!(states, ["RUNNING", "RESTARTING", "RUNNING"]);
        // The trace of what restarts is kept, as Kafka Connect's plan keeps it.
        assert_eq!(body.tasks[1].state.trace.as_deref(), Some("boom"));

        let plan = RestartPlan::new(false, true, Failed, &tasks);
        let body = plan.answer(status(Failed, &tasks)).expect("202");
        assert_eq!(body.connector.state, "RESTARTING");
        let states: Vec<&str> = body.tasks.iter().map(|t| t.state.state).collect();
        assert_eq!(states, ["RUNNING", "FAILED", "RUNNING"]);
    }

    #[test]
    fn the_plain_restart_answers_204_without_a_body() {
        let plan = RestartPlan::new(false, false, Failed, &[Failed]);
        assert!(plan.connector);
        assert_eq!(plan.answer(status(Failed, &[Failed])), None);
    }
}
