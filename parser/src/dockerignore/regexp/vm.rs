//! A Thompson-NFA [`Program`] and its breadth-first simulation (the "Pike
//! VM" without captures): every thread advances in lockstep over the text,
//! so matching is linear in text length times program size whatever the
//! pattern, with no backtracking blow-up.

use super::parse::{Assertion, Class, Node, Repeat};

/// One instruction of the automaton.
#[derive(Debug, Clone)]
enum Inst {
    Char(u32),
    Class(Class),
    AnyNotNewline,
    Assert(Assertion),
    Split(usize, usize),
    Jump(usize),
    Match,
}

/// A compiled expression, searched like Go's `MatchString` (a match may
/// start and end anywhere unless anchors say otherwise).
#[derive(Debug, Clone)]
pub(super) struct Program {
    insts: Vec<Inst>,
    /// The expression starts with `^`, so only position 0 can start a match.
    anchored: bool,
}

impl Program {
    pub(super) fn new(nodes: &[Node]) -> Self {
        let mut insts = Vec::new();
        for node in nodes {
            emit(&mut insts, node);
        }
        insts.push(Inst::Match);
        let anchored = matches!(insts.first(), Some(Inst::Assert(Assertion::BeginText)));
        Program { insts, anchored }
    }

    pub(super) fn is_match(&self, text: &str) -> bool {
        let mut current = Threads::new(self.insts.len());
        let mut next = Threads::new(self.insts.len());
        let mut stack = Vec::new();
        let mut chars = text.chars();
        let mut here = Context {
            before: None,
            after: chars.next(),
        };
        let mut at_start = true;
        loop {
            if (at_start || !self.anchored) && self.add(&mut current, 0, here, &mut stack) {
                return true;
            }
            let Some(ch) = here.after else { return false };
            if current.dense.is_empty() && self.anchored {
                return false;
            }
            let there = Context {
                before: Some(ch),
                after: chars.next(),
            };
            next.clear();
            for &pc in &current.dense {
                if self.consumes(pc, ch) && self.add(&mut next, pc + 1, there, &mut stack) {
                    return true;
                }
            }
            std::mem::swap(&mut current, &mut next);
            here = there;
            at_start = false;
        }
    }

    fn consumes(&self, pc: usize, ch: char) -> bool {
        match &self.insts[pc] {
            Inst::Char(code) => u32::from(ch) == *code,
            Inst::Class(class) => class.contains(u32::from(ch)),
            Inst::AnyNotNewline => ch != '\n',
            _ => false,
        }
    }

    /// Adds the thread at `pc` and everything reachable from it without
    /// consuming text; returns whether that reaches the final state.
    fn add(&self, list: &mut Threads, pc: usize, at: Context, stack: &mut Vec<usize>) -> bool {
        stack.clear();
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            if !list.insert(pc) {
                continue;
            }
            match &self.insts[pc] {
                Inst::Match => return true,
                Inst::Jump(target) => stack.push(*target),
                Inst::Split(first, second) => {
                    stack.push(*second);
                    stack.push(*first);
                }
                Inst::Assert(assertion) if at.holds(*assertion) => stack.push(pc + 1),
                _ => {}
            }
        }
        false
    }
}

fn emit(insts: &mut Vec<Inst>, node: &Node) {
    match node {
        Node::Literal(code) => insts.push(Inst::Char(*code)),
        Node::Class(class) => insts.push(Inst::Class(class.clone())),
        Node::AnyNotNewline => insts.push(Inst::AnyNotNewline),
        Node::Assert(assertion) => insts.push(Inst::Assert(*assertion)),
        Node::Group(nodes) => {
            for node in nodes {
                emit(insts, node);
            }
        }
        Node::Repeat(inner, Repeat::OneOrMore) => {
            let start = insts.len();
            emit(insts, inner);
            insts.push(Inst::Split(start, insts.len() + 1));
        }
        Node::Repeat(inner, repeat) => {
            let split = insts.len();
            insts.push(Inst::Jump(split));
            emit(insts, inner);
            if *repeat == Repeat::ZeroOrMore {
                insts.push(Inst::Jump(split));
            }
            insts[split] = Inst::Split(split + 1, insts.len());
        }
    }
}

/// The characters around a position, for zero-width assertions.
#[derive(Debug, Clone, Copy)]
struct Context {
    before: Option<char>,
    after: Option<char>,
}

impl Context {
    fn holds(self, assertion: Assertion) -> bool {
        let word = |ch: Option<char>| ch.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        match assertion {
            Assertion::BeginText => self.before.is_none(),
            Assertion::EndText => self.after.is_none(),
            Assertion::WordBoundary => word(self.before) != word(self.after),
            Assertion::NotWordBoundary => word(self.before) == word(self.after),
        }
    }
}

/// A sparse set of instruction indexes, cleared in constant time.
#[derive(Debug)]
struct Threads {
    dense: Vec<usize>,
    sparse: Vec<usize>,
}

impl Threads {
    fn new(size: usize) -> Self {
        Threads {
            dense: Vec::with_capacity(size),
            sparse: vec![0; size],
        }
    }

    fn clear(&mut self) {
        self.dense.clear();
    }

    fn insert(&mut self, pc: usize) -> bool {
        let slot = self.sparse[pc];
        if slot < self.dense.len() && self.dense[slot] == pc {
            return false;
        }
        self.sparse[pc] = self.dense.len();
        self.dense.push(pc);
        true
    }
}
