//! The doc's worked session as data: its code blocks, its steps (a command as typed in
//! `redis-cli`, the reply as `redis-cli` prints it), and the names that differ between the
//! doc and a replay (the key prefix, stream entry ids).
//!
//! The format, as docs/redis-protocol.md states it for readers: a line `> COMMAND args`
//! is what the worker sends (a trailing ` \` continues it on the next line); the lines up
//! to the next blank line, `#` comment or `>` are the reply; a reply line `...` stands
//! for any number of lines left out.

use std::collections::HashMap;

/// The text of every fenced code block whose info string has the word `tag`, in order.
pub fn blocks(markdown: &str, tag: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut open: Option<(bool, String)> = None;
    for line in markdown.lines() {
        match &mut open {
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    open = Some((info.split_whitespace().any(|w| w == tag), String::new()));
                }
            }
            Some((wanted, text)) => {
                if line.starts_with("```") {
                    if *wanted {
                        found.push(std::mem::take(text));
                    }
                    open = None;
                } else {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
    }
    found
}

/// One command of the session and the reply the doc shows for it.
pub struct Step {
    /// The command as the doc writes it (one line), for messages.
    pub typed: String,
    pub args: Vec<String>,
    pub reply: Vec<String>,
}

/// The steps of a session's text.
pub fn steps(text: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_reply = false;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(command) = line.strip_prefix("> ") {
            let mut typed = command.trim_end().to_string();
            while let Some(head) = typed.strip_suffix(" \\") {
                let next = lines.next().unwrap_or_else(|| panic!("`{typed}` continues past the block's end"));
                typed = format!("{head} {}", next.trim());
            }
            let args = split_args(&typed);
            steps.push(Step { typed, args, reply: Vec::new() });
            in_reply = true;
        } else if line.trim().is_empty() || line.starts_with('#') {
            in_reply = false;
        } else {
            assert!(in_reply, "a reply line outside a reply: {line:?}");
            steps.last_mut().expect("in a reply").reply.push(line.to_string());
        }
    }
    steps
}

/// A command line split into arguments as `redis-cli` splits it (`sdssplitargs`):
/// `"..."` with backslash escapes, `'...'` with `\'` only.
pub fn split_args(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return args;
        }
        let mut arg = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => loop {
                    match chars.next().unwrap_or_else(|| panic!("unclosed \" in {line}")) {
                        '"' => break,
                        '\\' => match chars.next().unwrap_or_else(|| panic!("a lone \\ in {line}")) {
                            'n' => arg.push('\n'),
                            'r' => arg.push('\r'),
                            't' => arg.push('\t'),
                            'x' => {
                                let hex: String = (0..2).filter_map(|_| chars.next()).collect();
                                arg.push(u8::from_str_radix(&hex, 16).expect("\\xHH") as char);
                            }
                            other => arg.push(other),
                        },
                        other => arg.push(other),
                    }
                },
                '\'' => loop {
                    match chars.next().unwrap_or_else(|| panic!("unclosed ' in {line}")) {
                        '\'' => break,
                        '\\' if chars.peek() == Some(&'\'') => arg.push(chars.next().unwrap()),
                        other => arg.push(other),
                    }
                },
                c if c.is_whitespace() => break,
                other => arg.push(other),
            }
        }
        args.push(arg);
    }
}

/// What a replay names differently from the doc: its key prefix (the doc's is
/// `troupe`), and the stream entry ids Redis gave it, bound to the doc's at their first
/// appearance in a reply.
#[derive(Clone)]
pub struct Names {
    pub doc_prefix: String,
    pub prefix: String,
    ids: HashMap<String, String>,
    taken: HashMap<String, String>,
}

impl Names {
    pub fn new(doc_prefix: &str, prefix: &str) -> Names {
        Names { doc_prefix: doc_prefix.into(), prefix: prefix.into(), ids: HashMap::new(), taken: HashMap::new() }
    }

    /// The doc's arguments with the replay's names.
    pub fn command(&self, args: &[String]) -> Vec<Vec<u8>> {
        args.iter()
            .map(|arg| {
                let arg = if let Some(id) = self.ids.get(arg) {
                    id.clone()
                } else if arg == &self.doc_prefix {
                    self.prefix.clone()
                } else if let Some(rest) = arg.strip_prefix(&format!("{}:", self.doc_prefix)) {
                    format!("{}:{rest}", self.prefix)
                } else {
                    arg.clone()
                };
                arg.into_bytes()
            })
            .collect()
    }

    /// A reply as printed, with the replay's prefix written as the doc's.
    pub fn as_doc(&self, printed: &str) -> String {
        printed.replace(&self.prefix, &self.doc_prefix)
    }

    /// Whether the printed reply (as [`Names::as_doc`] wrote it) is the doc's, binding the
    /// doc's entry ids to the replay's.
    pub fn matches(&mut self, doc: &[String], printed: &str) -> bool {
        let actual: Vec<&str> = printed.lines().collect();
        let doc: Vec<&str> = doc.iter().map(String::as_str).collect();
        let mut trial = self.clone();
        let ok = trial.match_lines(&doc, &actual);
        if ok {
            *self = trial;
        }
        ok
    }

    fn match_lines(&mut self, doc: &[&str], actual: &[&str]) -> bool {
        let Some((first, rest)) = doc.split_first() else { return actual.is_empty() };
        if first.trim() == "..." {
            return (0..=actual.len()).any(|skip| {
                let mut trial = self.clone();
                let ok = trial.match_lines(rest, &actual[skip..]);
                if ok {
                    *self = trial;
                }
                ok
            });
        }
        match actual.split_first() {
            Some((line, more)) => self.match_line(first, line) && self.match_lines(rest, more),
            None => false,
        }
    }

    /// Lines match when equal, or equal but for the stream entry id they end with (ids
    /// are whole strings in a reply: `"1764554700000-0"`).
    fn match_line(&mut self, doc: &str, actual: &str) -> bool {
        match (entry_id(doc), entry_id(actual)) {
            (Some((doc_head, doc_id)), Some((head, id))) if doc_head == head => self.bind(doc_id, id),
            _ => doc == actual,
        }
    }

    fn bind(&mut self, doc_id: &str, id: &str) -> bool {
        match (self.ids.get(doc_id), self.taken.get(id)) {
            (Some(bound), _) => bound == id,
            (None, Some(_)) => false,
            (None, None) => {
                self.ids.insert(doc_id.to_string(), id.to_string());
                self.taken.insert(id.to_string(), doc_id.to_string());
                true
            }
        }
    }
}

/// A printed line that ends with a quoted stream entry id: what comes before it, the id.
fn entry_id(line: &str) -> Option<(&str, &str)> {
    let body = line.strip_suffix('"')?;
    let open = body.rfind('"')?;
    let id = &body[open + 1..];
    let (ms, seq) = id.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(ms) && digits(seq)).then_some((&line[..open], id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_split_as_redis_cli_splits_them() {
        let args = split_args(r#"FCALL f 1 k '{"a":"b c"}' "x \"y\"\n" plain"#);
        assert_eq!(args, ["FCALL", "f", "1", "k", r#"{"a":"b c"}"#, "x \"y\"\n", "plain"]);
    }

    #[test]
    fn ids_bind_once_and_elisions_skip_lines() {
        let mut names = Names::new("troupe", "p");
        let doc: Vec<String> = ["1) \"1-0\"", "...", "3) \"x\""].iter().map(|s| s.to_string()).collect();
        assert!(names.matches(&doc, "1) \"17-3\"\n2) \"y\"\n2) \"z\"\n3) \"x\"\n"));
        assert_eq!(names.command(&["1-0".into(), "troupe:{r}:q".into()]), [b"17-3".to_vec(), b"p:{r}:q".to_vec()]);
        assert!(!names.matches(&["\"1-0\"".to_string()], "\"18-0\"\n"), "one doc id, two replay ids");
    }
}
