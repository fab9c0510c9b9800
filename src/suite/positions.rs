//! Where each case and step starts in a suite file. serde_yaml reports positions only in
//! its own errors, so a second, event-level parse (yaml-rust2) records the start of every
//! `cases[i]` and `cases[i].steps[j]`; semantic errors and failure reports cite them.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use super::model::Location;

/// The start of case `i` and of each of its steps.
#[derive(Debug, Default)]
pub struct Positions {
    pub cases: Vec<(Location, Vec<Location>)>,
    /// The same for each of `fixtures[i]`.
    pub fixtures: Vec<(Location, Vec<Location>)>,
}

enum Node {
    Map(Location, Vec<(String, Node)>),
    Seq(Location, Vec<Node>),
    Scalar(Location, String),
}

impl Node {
    fn location(&self) -> Location {
        match self {
            Node::Map(l, _) | Node::Seq(l, _) | Node::Scalar(l, _) => *l,
        }
    }

    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(_, entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn items(&self) -> &[Node] {
        match self {
            Node::Seq(_, items) => items,
            _ => &[],
        }
    }
}

#[derive(Default)]
struct Events(Vec<(Event, Marker)>);

impl MarkedEventReceiver for Events {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        self.0.push((ev, mark));
    }
}

fn location(mark: &Marker) -> Location {
    Location { line: mark.line(), col: mark.col() + 1 }
}

fn build(events: &[(Event, Marker)], pos: &mut usize) -> Option<Node> {
    let (event, mark) = events.get(*pos)?;
    *pos += 1;
    let loc = location(mark);
    match event {
        Event::Scalar(text, ..) => Some(Node::Scalar(loc, text.clone())),
        Event::Alias(_) => Some(Node::Scalar(loc, String::new())),
        Event::SequenceStart(..) => {
            let mut items = Vec::new();
            while !matches!(events.get(*pos), Some((Event::SequenceEnd, _)) | None) {
                items.push(build(events, pos)?);
            }
            *pos += 1;
            Some(Node::Seq(loc, items))
        }
        Event::MappingStart(..) => {
            let mut entries = Vec::new();
            // A block mapping's start event is marked after its first key; the first
            // key's own mark is where a reader sees the mapping begin.
            let mut start = None;
            while !matches!(events.get(*pos), Some((Event::MappingEnd, _)) | None) {
                let key = build(events, pos)?;
                start.get_or_insert(key.location());
                let key = match key {
                    Node::Scalar(_, k) => k,
                    _ => String::new(),
                };
                entries.push((key, build(events, pos)?));
            }
            *pos += 1;
            Some(Node::Map(start.unwrap_or(loc), entries))
        }
        _ => build(events, pos),
    }
}

/// The positions of cases and steps; empty when the text is not YAML (serde_yaml then
/// reports the syntax error with its own position).
pub fn index(text: &str) -> Positions {
    let mut events = Events::default();
    if Parser::new_from_str(text).load(&mut events, false).is_err() {
        return Positions::default();
    }
    let mut pos = 0;
    let Some(root) = build(&events.0, &mut pos) else {
        return Positions::default();
    };
    let with_steps = |key: &str| -> Vec<(Location, Vec<Location>)> {
        let items = root.get(key).map(Node::items).unwrap_or_default();
        items
            .iter()
            .map(|item| {
                let steps = item.get("steps").map(Node::items).unwrap_or_default();
                (item.location(), steps.iter().map(Node::location).collect())
            })
            .collect()
    };
    Positions { cases: with_steps("cases"), fixtures: with_steps("fixtures") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cases_and_steps() {
        let text = "suite: s\ncases:\n  - name: a\n    steps:\n      - GenerateRandom: {len: 1}\n      - SeedRandom: {mixin: hex:00}\n  - name: b\n    steps: []\n";
        let p = index(text);
        assert_eq!(p.cases.len(), 2);
        assert_eq!(p.cases[0].0.line, 3);
        assert_eq!(p.cases[0].1, [Location { line: 5, col: 9 }, Location { line: 6, col: 9 }]);
        assert_eq!(p.cases[1].0.line, 7);
    }
}
