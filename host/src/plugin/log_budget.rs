//! The `log-lines` and `log-bytes` limits of one plugin call.
//!
//! Why drop instead of failing: a chatty plugin is a nuisance, not a broken stage. Past
//! either limit its lines are dropped and counted, and once the call ends one notice says
//! how many were dropped and which limit was reached (a million lines became 155 MB of
//! stderr in ten seconds before this).

use crate::manifest::Limits;

pub(crate) struct LogBudget {
    max_lines: u64,
    max_bytes: u64,
    lines: u64,
    bytes: u64,
    dropped_lines: u64,
    dropped_bytes: u64,
    /// The limit reached first, for the notice.
    reached: Option<&'static str>,
}

impl LogBudget {
    pub fn new(limits: &Limits) -> Self {
        LogBudget {
            max_lines: limits.log_lines,
            max_bytes: limits.log_bytes,
            lines: 0,
            bytes: 0,
            dropped_lines: 0,
            dropped_bytes: 0,
            reached: None,
        }
    }

    /// Whether a line of `len` bytes may still be written; counts it either way. Once a
    /// limit is reached every later line of the call is dropped.
    pub fn admit(&mut self, len: usize) -> bool {
        let len = len as u64;
        let reached = if let Some(limit) = self.reached {
            Some(limit)
        } else if self.lines >= self.max_lines {
            Some("log-lines")
        } else if self.bytes.saturating_add(len) > self.max_bytes {
            Some("log-bytes")
        } else {
            None
        };
        match reached {
            None => {
                self.lines += 1;
                self.bytes += len;
                true
            }
            Some(limit) => {
                self.reached.get_or_insert(limit);
                self.dropped_lines += 1;
                self.dropped_bytes = self.dropped_bytes.saturating_add(len);
                false
            }
        }
    }

    /// The one notice for a call that went past a limit.
    pub fn notice(&self) -> Option<String> {
        let limit = self.reached?;
        let value = if limit == "log-lines" { self.max_lines } else { self.max_bytes };
        Some(format!(
            "dropped {} log lines ({} bytes) of this call past its {limit} limit of {value}",
            self.dropped_lines, self.dropped_bytes
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::LogBudget;
    use crate::manifest::Limits;

    #[test]
    fn lines_past_either_limit_are_dropped_and_counted() {
        let mut budget = LogBudget::new(&Limits { log_lines: 2, log_bytes: 100, ..Limits::DEFAULT });
        assert!(budget.admit(10) && budget.admit(10));
        assert!(!budget.admit(10) && !budget.admit(5));
        assert_eq!(
            budget.notice().unwrap(),
            "dropped 2 log lines (15 bytes) of this call past its log-lines limit of 2"
        );

        let mut budget = LogBudget::new(&Limits { log_lines: 10, log_bytes: 15, ..Limits::DEFAULT });
        assert!(budget.admit(10) && !budget.admit(10) && !budget.admit(5));
        assert_eq!(
            budget.notice().unwrap(),
            "dropped 2 log lines (15 bytes) of this call past its log-bytes limit of 15"
        );
        assert_eq!(LogBudget::new(&Limits::DEFAULT).notice(), None);
    }
}
