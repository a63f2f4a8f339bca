//! The block tree the PDF layout works from, built from parser events.
//!
//! The builder keeps its containers on an explicit stack, so no input nests
//! the tree deeper than [`MAX_NESTING`]: a container opened below that depth
//! is not created, and what it holds goes to the innermost real container.

use pulldown_cmark::{Alignment, Event, HeadingLevel, Parser, Tag, TagEnd};

use crate::{MAX_NESTING, html::is_safe_url, is_line_break_tag, markdown_options};

/// How a run of inline text is set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Style {
    pub bold: bool,
    pub italic: bool,
    pub code: bool,
    pub strike: bool,
    pub link: bool,
}

/// Inline content: styled text or a forced line break.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Inline {
    Text(String, Style),
    Break,
}

/// Column alignment in a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Center,
    Right,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Table {
    pub aligns: Vec<Align>,
    pub header: Vec<Vec<Inline>>,
    pub rows: Vec<Vec<Vec<Inline>>>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Item {
    /// `Some(done)` for a task-list item.
    pub task: Option<bool>,
    pub blocks: Vec<Block>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Block {
    Heading {
        level: u8,
        content: Vec<Inline>,
    },
    Paragraph(Vec<Inline>),
    Code(String),
    List {
        start: Option<u64>,
        items: Vec<Item>,
    },
    Quote(Vec<Block>),
    Table(Table),
    Rule,
}

/// An open container.
enum Frame {
    Root(Vec<Block>),
    Quote(Vec<Block>),
    List {
        start: Option<u64>,
        items: Vec<Item>,
    },
    Item(Item),
    Table {
        table: Table,
        row: Vec<Vec<Inline>>,
    },
    /// A container past [`MAX_NESTING`], or one this layout has no use for
    /// (footnote definitions, definition lists): its content goes to the
    /// nearest real container.
    Flattened,
}

/// An open leaf that collects inline content or code.
enum Leaf {
    Paragraph(Vec<Inline>),
    Heading(u8, Vec<Inline>),
    Cell(Vec<Inline>),
    Code(String),
}

struct Builder {
    frames: Vec<Frame>,
    /// Indices into `frames` of the non-flattened ones; the last is where
    /// blocks go.
    real: Vec<usize>,
    leaf: Option<Leaf>,
    /// Real quotes and lists open: the indentation depth.
    nesting: usize,
    style: Counts,
    /// For each open link or image: the target to print after its text.
    links: Vec<Option<String>>,
}

/// Open inline spans, counted so that nesting `**a **b** c**` still ends
/// bold where it should.
#[derive(Default)]
struct Counts {
    strong: u32,
    emphasis: u32,
    strike: u32,
    link: u32,
}

impl Counts {
    fn style(&self) -> Style {
        Style {
            bold: self.strong > 0,
            italic: self.emphasis > 0,
            code: false,
            strike: self.strike > 0,
            link: self.link > 0,
        }
    }
}

/// Parses `markdown` into blocks.
pub(crate) fn parse(markdown: &str) -> Vec<Block> {
    let mut builder = Builder {
        frames: vec![Frame::Root(Vec::new())],
        real: vec![0],
        leaf: None,
        nesting: 0,
        style: Counts::default(),
        links: Vec::new(),
    };
    for event in Parser::new_ext(markdown, markdown_options()) {
        builder.event(event);
    }
    builder.flush_leaf();
    // Close whatever the parser left open (it closes everything, but a
    // truncated stream must not lose text).
    while builder.frames.len() > 1 {
        builder.close_frame();
    }
    match builder.frames.pop() {
        Some(Frame::Root(blocks)) => blocks,
        Some(
            Frame::Quote(_)
            | Frame::List { .. }
            | Frame::Item(_)
            | Frame::Table { .. }
            | Frame::Flattened,
        )
        | None => Vec::new(),
    }
}

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

fn align(a: Alignment) -> Align {
    match a {
        Alignment::None | Alignment::Left => Align::Left,
        Alignment::Center => Align::Center,
        Alignment::Right => Align::Right,
    }
}

impl Builder {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.text(&text, self.style.style()),
            Event::Code(text) | Event::InlineMath(text) | Event::DisplayMath(text) => {
                let style = Style {
                    code: true,
                    ..self.style.style()
                };
                self.text(&text, style);
            }
            Event::Html(raw) => {
                // Raw HTML blocks are shown as text, line by line.
                let mut first = true;
                for line in raw.trim_end_matches('\n').split('\n') {
                    if !first {
                        self.inline(Inline::Break);
                    }
                    first = false;
                    self.text(line, Style::default());
                }
            }
            Event::InlineHtml(raw) if is_line_break_tag(&raw) => self.inline(Inline::Break),
            Event::InlineHtml(raw) => self.text(&raw, self.style.style()),
            Event::FootnoteReference(label) => {
                self.text(&format!("[^{label}]"), self.style.style())
            }
            Event::SoftBreak => self.text(" ", self.style.style()),
            Event::HardBreak => self.inline(Inline::Break),
            Event::Rule => {
                self.flush_leaf();
                self.push_block(Block::Rule);
            }
            Event::TaskListMarker(done) => {
                if let Some(Frame::Item(item)) =
                    self.real.last().and_then(|&i| self.frames.get_mut(i))
                {
                    item.task = Some(done);
                }
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph | Tag::HtmlBlock => {
                self.flush_leaf();
                self.leaf = Some(Leaf::Paragraph(Vec::new()));
            }
            Tag::Heading { level, .. } => {
                self.flush_leaf();
                self.leaf = Some(Leaf::Heading(heading_level(level), Vec::new()));
            }
            Tag::CodeBlock(_) | Tag::MetadataBlock(_) => {
                self.flush_leaf();
                self.leaf = Some(Leaf::Code(String::new()));
            }
            Tag::BlockQuote(_) => self.open_frame(Frame::Quote(Vec::new())),
            Tag::List(start) => self.open_frame(Frame::List {
                start,
                items: Vec::new(),
            }),
            Tag::Item => self.open_frame(Frame::Item(Item {
                task: None,
                blocks: Vec::new(),
            })),
            Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition => {
                self.flush_leaf();
                self.frames.push(Frame::Flattened);
            }
            Tag::Table(aligns) => self.open_frame(Frame::Table {
                table: Table {
                    aligns: aligns.into_iter().map(align).collect(),
                    header: Vec::new(),
                    rows: Vec::new(),
                },
                row: Vec::new(),
            }),
            Tag::TableHead | Tag::TableRow => {
                if let Some(Frame::Table { row, .. }) = self.frames.last_mut() {
                    row.clear();
                }
            }
            Tag::TableCell => {
                self.flush_leaf();
                self.leaf = Some(Leaf::Cell(Vec::new()));
            }
            Tag::Emphasis => self.style.emphasis += 1,
            Tag::Strong => self.style.strong += 1,
            Tag::Strikethrough => self.style.strike += 1,
            Tag::Superscript | Tag::Subscript => {}
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.style.link += 1;
                let shown = dest_url.starts_with("http") || dest_url.starts_with("mailto:");
                self.links
                    .push((shown && is_safe_url(&dest_url)).then(|| dest_url.to_string()));
            }
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph
            | TagEnd::HtmlBlock
            | TagEnd::Heading(_)
            | TagEnd::CodeBlock
            | TagEnd::MetadataBlock(_) => self.flush_leaf(),
            TagEnd::BlockQuote(_)
            | TagEnd::List(_)
            | TagEnd::Item
            | TagEnd::Table
            | TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition => {
                self.flush_leaf();
                self.close_frame();
            }
            TagEnd::TableHead | TagEnd::TableRow => {
                self.flush_leaf();
                if let Some(Frame::Table { table, row }) = self.frames.last_mut() {
                    let cells = std::mem::take(row);
                    if matches!(tag, TagEnd::TableHead) {
                        table.header = cells;
                    } else {
                        table.rows.push(cells);
                    }
                }
            }
            TagEnd::TableCell => self.flush_leaf(),
            TagEnd::Emphasis => self.style.emphasis = self.style.emphasis.saturating_sub(1),
            TagEnd::Strong => self.style.strong = self.style.strong.saturating_sub(1),
            TagEnd::Strikethrough => self.style.strike = self.style.strike.saturating_sub(1),
            TagEnd::Superscript | TagEnd::Subscript => {}
            TagEnd::Link | TagEnd::Image => {
                self.style.link = self.style.link.saturating_sub(1);
                if let Some(Some(url)) = self.links.pop() {
                    let already_shown = match &self.leaf {
                        Some(Leaf::Paragraph(v) | Leaf::Heading(_, v) | Leaf::Cell(v)) => {
                            matches!(v.last(), Some(Inline::Text(t, _)) if t.ends_with(url.as_str()))
                        }
                        Some(Leaf::Code(_)) | None => false,
                    };
                    if !already_shown {
                        self.text(&format!(" ({url})"), self.style.style());
                    }
                }
            }
        }
    }

    fn text(&mut self, text: &str, style: Style) {
        if text.is_empty() {
            return;
        }
        match &mut self.leaf {
            Some(Leaf::Code(code)) => code.push_str(text),
            Some(Leaf::Paragraph(v) | Leaf::Heading(_, v) | Leaf::Cell(v)) => {
                push_text(v, text, style)
            }
            None => {
                // Tight list items carry their text without a paragraph.
                let mut v = Vec::new();
                push_text(&mut v, text, style);
                self.leaf = Some(Leaf::Paragraph(v));
            }
        }
    }

    fn inline(&mut self, inline: Inline) {
        match &mut self.leaf {
            Some(Leaf::Code(code)) => code.push('\n'),
            Some(Leaf::Paragraph(v) | Leaf::Heading(_, v) | Leaf::Cell(v)) => v.push(inline),
            None => self.leaf = Some(Leaf::Paragraph(vec![inline])),
        }
    }

    fn flush_leaf(&mut self) {
        let Some(leaf) = self.leaf.take() else {
            return;
        };
        match leaf {
            Leaf::Paragraph(content) => self.push_block(Block::Paragraph(content)),
            Leaf::Heading(level, content) => self.push_block(Block::Heading { level, content }),
            Leaf::Code(mut code) => {
                if code.ends_with('\n') {
                    code.pop();
                }
                self.push_block(Block::Code(code));
            }
            Leaf::Cell(content) => match self.frames.last_mut() {
                Some(Frame::Table { row, .. }) => row.push(content),
                Some(
                    Frame::Root(_)
                    | Frame::Quote(_)
                    | Frame::List { .. }
                    | Frame::Item(_)
                    | Frame::Flattened,
                )
                | None => self.push_block(Block::Paragraph(content)),
            },
        }
    }

    fn open_frame(&mut self, frame: Frame) {
        self.flush_leaf();
        let real = match &frame {
            Frame::Quote(_) | Frame::List { .. } => self.nesting < MAX_NESTING,
            Frame::Item(_) => matches!(
                self.real.last().and_then(|&i| self.frames.get(i)),
                Some(Frame::List { .. })
            ),
            Frame::Table { .. } => true,
            Frame::Root(_) | Frame::Flattened => false,
        };
        if !real {
            self.frames.push(Frame::Flattened);
            return;
        }
        if matches!(frame, Frame::Quote(_) | Frame::List { .. }) {
            self.nesting += 1;
        }
        self.real.push(self.frames.len());
        self.frames.push(frame);
    }

    fn close_frame(&mut self) {
        let Some(frame) = self.frames.pop() else {
            return;
        };
        let block = match frame {
            Frame::Flattened => return,
            Frame::Root(blocks) => {
                // Never popped by an end tag; put it back.
                self.frames.push(Frame::Root(blocks));
                return;
            }
            Frame::Quote(blocks) => {
                self.nesting = self.nesting.saturating_sub(1);
                Some(Block::Quote(blocks))
            }
            Frame::List { start, items } => {
                self.nesting = self.nesting.saturating_sub(1);
                Some(Block::List { start, items })
            }
            Frame::Item(item) => {
                self.real.pop();
                match self.real.last().and_then(|&i| self.frames.get_mut(i)) {
                    Some(Frame::List { items, .. }) => items.push(item),
                    // An item whose list was flattened: keep its content.
                    Some(
                        Frame::Root(_)
                        | Frame::Quote(_)
                        | Frame::Item(_)
                        | Frame::Table { .. }
                        | Frame::Flattened,
                    )
                    | None => {
                        for block in item.blocks {
                            self.push_block(block);
                        }
                    }
                }
                return;
            }
            Frame::Table { mut table, .. } => {
                let columns = table
                    .aligns
                    .len()
                    .max(table.header.len())
                    .max(table.rows.iter().map(Vec::len).max().unwrap_or(0));
                table.aligns.resize(columns, Align::Left);
                table.header.resize(columns, Vec::new());
                for row in &mut table.rows {
                    row.resize(columns, Vec::new());
                }
                Some(Block::Table(table))
            }
        };
        self.real.pop();
        if let Some(block) = block {
            self.push_block(block);
        }
    }

    /// Adds a finished block to the innermost real container.
    fn push_block(&mut self, block: Block) {
        let Some(frame) = self.real.last().and_then(|&i| self.frames.get_mut(i)) else {
            return;
        };
        match frame {
            Frame::Root(blocks) | Frame::Quote(blocks) => blocks.push(block),
            Frame::Item(item) => item.blocks.push(block),
            Frame::List { items, .. } => match items.last_mut() {
                Some(item) => item.blocks.push(block),
                None => items.push(Item {
                    task: None,
                    blocks: vec![block],
                }),
            },
            Frame::Table { table, .. } => {
                // GitHub tables hold only inline content; should a block
                // arrive anyway, keep its text as a row of its own.
                let mut cell = Vec::new();
                collect_text(&block, &mut cell);
                table.rows.push(vec![cell]);
            }
            Frame::Flattened => {}
        }
    }
}

fn push_text(v: &mut Vec<Inline>, text: &str, style: Style) {
    if let Some(Inline::Text(last, last_style)) = v.last_mut()
        && *last_style == style
    {
        last.push_str(text);
        return;
    }
    v.push(Inline::Text(text.to_string(), style));
}

fn collect_text(block: &Block, out: &mut Vec<Inline>) {
    match block {
        Block::Heading { content, .. } | Block::Paragraph(content) => {
            out.extend(content.iter().cloned())
        }
        Block::Code(code) => push_text(
            out,
            code,
            Style {
                code: true,
                ..Style::default()
            },
        ),
        Block::List { items, .. } => {
            for item in items {
                for b in &item.blocks {
                    collect_text(b, out);
                }
            }
        }
        Block::Quote(blocks) => {
            for b in blocks {
                collect_text(b, out);
            }
        }
        Block::Table(t) => {
            for cell in t.header.iter().chain(t.rows.iter().flatten()) {
                out.extend(cell.iter().cloned());
            }
        }
        Block::Rule => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Inline {
        Inline::Text(s.to_string(), Style::default())
    }

    #[test]
    fn builds_lists_tables_and_code() {
        let md = "# Title\n\n- one\n  - two\n\n| a | b |\n|---|--:|\n| 1 | x \\| y |\n\n```\ncode\n```\n";
        let blocks = parse(md);
        assert_eq!(
            blocks,
            vec![
                Block::Heading {
                    level: 1,
                    content: vec![text("Title")]
                },
                Block::List {
                    start: None,
                    items: vec![Item {
                        task: None,
                        blocks: vec![
                            Block::Paragraph(vec![text("one")]),
                            Block::List {
                                start: None,
                                items: vec![Item {
                                    task: None,
                                    blocks: vec![Block::Paragraph(vec![text("two")])]
                                }]
                            },
                        ],
                    }],
                },
                Block::Table(Table {
                    aligns: vec![Align::Left, Align::Right],
                    header: vec![vec![text("a")], vec![text("b")]],
                    rows: vec![vec![vec![text("1")], vec![text("x | y")]]],
                }),
                Block::Code("code".to_string()),
            ]
        );
    }

    #[test]
    fn deep_nesting_is_flattened_without_losing_text() {
        let md = format!("{}deepest", "> ".repeat(500));
        let blocks = parse(&md);
        let mut depth = 0;
        let mut current = &blocks;
        while let Some(Block::Quote(inner)) = current.first() {
            depth += 1;
            current = inner;
        }
        assert_eq!(depth, MAX_NESTING);
        assert_eq!(current, &vec![Block::Paragraph(vec![text("deepest")])]);
    }
}
