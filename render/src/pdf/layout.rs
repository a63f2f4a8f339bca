//! Blocks placed on A4 pages, as a display list per page.
//!
//! Coordinates are PDF points with the origin at the page's top left and y
//! growing downwards (krilla's convention). Layout runs top to bottom once;
//! page numbers are added afterwards, when the page count is known.

use super::fonts::{Face, Fonts, Shaped};
use super::text::{INK, Line, Rgb, TextStyle, Token, code_line, tokenize, wrap};
use crate::model::{Block, Inline, Item};

/// A4, the paper an incident report is most often printed on outside the US;
/// on Letter it prints scaled by 97 %, which stays legible.
pub(crate) const PAGE_WIDTH: f32 = 595.28;
pub(crate) const PAGE_HEIGHT: f32 = 841.89;
/// 20 mm side margins: room for binding and hand notes.
pub(crate) const MARGIN_X: f32 = 56.7;
pub(crate) const TOP: f32 = 56.7;
/// Content ends here; the footer (rule, title, page number) sits below.
pub(crate) const BOTTOM: f32 = PAGE_HEIGHT - 70.0;
pub(crate) const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN_X;

/// Body text size: 10.5 pt reads well on paper at ~80 characters a line.
pub(crate) const BODY_SIZE: f32 = 10.5;
/// Line height as a multiple of the font size.
pub(crate) const LEADING: f32 = 1.4;
/// Space after a paragraph, list or table.
const BLOCK_GAP: f32 = 7.0;
/// Space after a paragraph inside a list item.
const ITEM_GAP: f32 = 3.0;
/// Indentation of each list level and of a quote.
const INDENT: f32 = 18.0;
/// Code block text size and the padding around it.
const CODE_SIZE: f32 = 8.6;
const CODE_PAD: f32 = 5.0;

pub(crate) const RULE_COLOR: Rgb = Rgb(0xd0, 0xd7, 0xde);
const CODE_BACKGROUND: Rgb = Rgb(0xf3, 0xf5, 0xf7);
const QUOTE_INK: Rgb = Rgb(0x57, 0x60, 0x6a);

/// One drawing operation.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    /// A shaped run with its baseline starting at (x, y).
    Text {
        x: f32,
        y: f32,
        size: f32,
        color: Rgb,
        run: Shaped,
    },
    /// A filled rectangle.
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        color: Rgb,
    },
    /// A straight stroke.
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        width: f32,
        color: Rgb,
    },
}

/// Places blocks on pages.
pub(crate) struct Layout<'f> {
    pub fonts: &'f Fonts,
    pub pages: Vec<Vec<Op>>,
    /// Top of the free space on the current page.
    pub y: f32,
    /// Lists open around the block being laid out: picks the bullet.
    lists: usize,
}

/// Heading sizes by level (1–6), and the space above each.
fn heading_metrics(level: u8) -> (f32, f32) {
    match level {
        1 => (20.0, 6.0),
        2 => (15.5, 14.0),
        3 => (12.5, 10.0),
        _ => (11.0, 8.0),
    }
}

/// Where the baseline sits in a line box of `size` text: the leading split
/// above and below, and Noto's capitals and ascenders (about 0.78 em above
/// the baseline) under the top half.
pub(crate) fn baseline(top: f32, size: f32) -> f32 {
    top + (LEADING - 1.0) * size / 2.0 + 0.78 * size
}

impl<'f> Layout<'f> {
    pub(crate) fn new(fonts: &'f Fonts) -> Layout<'f> {
        Layout {
            fonts,
            pages: vec![Vec::new()],
            y: TOP,
            lists: 0,
        }
    }

    pub(crate) fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    pub(crate) fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }

    pub(crate) fn at_page_top(&self) -> bool {
        self.y <= TOP + 0.5
    }

    /// Starts a new page unless `height` fits below `y` (or the page is
    /// still empty, where nothing would be gained).
    pub(crate) fn ensure(&mut self, height: f32) {
        if self.y + height > BOTTOM && !self.at_page_top() {
            self.new_page();
        }
    }

    pub(crate) fn blocks(&mut self, blocks: &[Block], x: f32, width: f32, depth: usize) {
        for block in blocks {
            self.block(block, x, width, depth);
        }
    }

    fn block(&mut self, block: &Block, x: f32, width: f32, depth: usize) {
        match block {
            Block::Heading { level, content } => self.heading(*level, content, x, width),
            Block::Paragraph(content) => {
                self.paragraph(content, TextStyle::body(BODY_SIZE), x, width);
                self.y += BLOCK_GAP;
            }
            Block::Code(code) => self.code(code, x, width),
            Block::List { start, items } => self.list(*start, items, x, width, depth),
            Block::Quote(blocks) => self.quote(blocks, x, width, depth),
            Block::Table(table) => {
                self.table(table, x, width);
                self.y += BLOCK_GAP;
            }
            Block::Rule => {
                self.ensure(16.0);
                let y = self.y + 8.0;
                self.ops().push(Op::Line {
                    x1: x,
                    y1: y,
                    x2: x + width,
                    y2: y,
                    width: 0.8,
                    color: RULE_COLOR,
                });
                self.y += 16.0;
            }
        }
    }

    fn heading(&mut self, level: u8, content: &[Inline], x: f32, width: f32) {
        let (size, above) = heading_metrics(level);
        let style = TextStyle {
            size,
            bold: true,
            ..TextStyle::body(size)
        };
        let tokens = tokenize(self.fonts, content, style);
        let lines = wrap(self.fonts, &tokens, width);
        let height = lines.len() as f32 * size * LEADING;
        if !self.at_page_top() {
            self.y += above;
        }
        // Keep the heading with at least three lines of what follows.
        self.ensure(height + 3.0 * BODY_SIZE * LEADING);
        for line in &lines {
            self.line(line, x, size);
        }
        if level <= 2 {
            let y = self.y + 1.5;
            let color = if level == 1 { INK } else { RULE_COLOR };
            self.ops().push(Op::Line {
                x1: x,
                y1: y,
                x2: x + width,
                y2: y,
                width: 0.7,
                color,
            });
            self.y += 3.0;
        }
        self.y += 5.0;
    }

    /// Sets inline content as wrapped lines at the cursor.
    pub(crate) fn paragraph(&mut self, content: &[Inline], style: TextStyle, x: f32, width: f32) {
        let tokens = tokenize(self.fonts, content, style);
        let lines = wrap(self.fonts, &tokens, width);
        // No paragraph starts with a lone line at the foot of a page.
        self.ensure(style.size * LEADING * lines.len().min(2) as f32);
        for line in &lines {
            self.ensure(style.size * LEADING);
            self.line(line, x, style.size);
        }
    }

    /// Draws one line at the cursor and moves below it.
    fn line(&mut self, line: &Line, x: f32, size: f32) {
        let y = self.y;
        draw_line(self.ops(), line, x, y, size);
        self.y += size * LEADING;
    }

    fn code(&mut self, code: &str, x: f32, width: f32) {
        let inner = width - 2.0 * CODE_PAD;
        let line_height = CODE_SIZE * LEADING;
        let mut lines: Vec<Line> = Vec::new();
        for source_line in code.split('\n') {
            let tokens: Vec<Token> = code_line(self.fonts, source_line, CODE_SIZE);
            let wrapped = wrap(self.fonts, &tokens, inner);
            if wrapped.is_empty() {
                lines.push(Line::default());
            } else {
                lines.extend(wrapped);
            }
        }
        let mut next = 0;
        while next < lines.len() {
            self.ensure(2.0 * CODE_PAD + line_height * (lines.len() - next).min(3) as f32);
            let room = ((BOTTOM - self.y - 2.0 * CODE_PAD) / line_height)
                .floor()
                .max(1.0) as usize;
            let end = (next + room).min(lines.len());
            let height = 2.0 * CODE_PAD + (end - next) as f32 * line_height;
            let top = self.y;
            self.ops().push(Op::Rect {
                x,
                y: top,
                w: width,
                h: height,
                color: CODE_BACKGROUND,
            });
            let mut line_top = top + CODE_PAD;
            for line in lines.get(next..end).unwrap_or_default() {
                draw_line(self.ops(), line, x + CODE_PAD, line_top, CODE_SIZE);
                line_top += line_height;
            }
            self.y = top + height;
            next = end;
            if next < lines.len() {
                self.new_page();
            }
        }
        self.y += BLOCK_GAP;
    }

    fn list(&mut self, start: Option<u64>, items: &[Item], x: f32, width: f32, depth: usize) {
        let indent = if width > 3.0 * INDENT { INDENT } else { 0.0 };
        self.lists += 1;
        for (n, item) in items.iter().enumerate() {
            let marker = match (item.task, start) {
                (Some(true), _) => "[x]".to_string(),
                (Some(false), _) => "[ ]".to_string(),
                (None, Some(first)) => format!("{}.", first.saturating_add(n as u64)),
                (None, None) => match self.lists.saturating_sub(1) % 3 {
                    0 => "•".to_string(),
                    1 => "◦".to_string(),
                    _ => "▪".to_string(),
                },
            };
            // Two lines, as a paragraph needs: the marker must not stay behind.
            self.ensure(2.0 * BODY_SIZE * LEADING);
            if indent > 0.0 {
                let face = if item.task.is_some() {
                    Face::Mono
                } else {
                    Face::Regular
                };
                let size = if item.task.is_some() {
                    BODY_SIZE * 0.85
                } else {
                    BODY_SIZE
                };
                let runs = self.fonts.shape(face, &marker);
                let marker_width: f32 = runs.iter().map(|r| r.advance * size).sum();
                // Markers end 5 pt before the text; wide numbers grow left.
                let mut mx = x + indent - 5.0 - marker_width;
                let y = baseline(self.y, BODY_SIZE);
                for run in runs {
                    let advance = run.advance * size;
                    self.ops().push(Op::Text {
                        x: mx,
                        y,
                        size,
                        color: INK,
                        run,
                    });
                    mx += advance;
                }
            }
            let before = self.y;
            for block in &item.blocks {
                self.block(block, x + indent, width - indent, depth + 1);
                // Within a list, paragraphs sit closer than in running text.
                if matches!(block, Block::Paragraph(_)) {
                    self.y -= BLOCK_GAP - ITEM_GAP;
                }
            }
            if self.y <= before {
                self.y = before + BODY_SIZE * LEADING;
            }
        }
        self.lists -= 1;
        if self.lists == 0 {
            self.y += BLOCK_GAP - ITEM_GAP;
        }
    }

    fn quote(&mut self, blocks: &[Block], x: f32, width: f32, depth: usize) {
        let indent = if width > 3.0 * INDENT {
            INDENT * 0.75
        } else {
            0.0
        };
        self.ensure(2.0 * BODY_SIZE * LEADING);
        let first_page = self.pages.len() - 1;
        let top = self.y;
        let start_ops = self.pages.get(first_page).map_or(0, Vec::len);
        self.blocks(blocks, x + indent, width - indent, depth + 1);
        // Quoted text is grey; recolour what the quote drew.
        for (p, ops) in self.pages.iter_mut().enumerate().skip(first_page) {
            let from = if p == first_page { start_ops } else { 0 };
            for op in ops.iter_mut().skip(from) {
                if let Op::Text { color, .. } = op
                    && *color == INK
                {
                    *color = QUOTE_INK;
                }
            }
        }
        let last_page = self.pages.len() - 1;
        for p in first_page..=last_page {
            // The first block may still have moved on to the next page.
            if p == first_page && self.pages.get(p).map_or(0, Vec::len) == start_ops {
                continue;
            }
            let y1 = if p == first_page { top } else { TOP };
            let y2 = if p == last_page {
                self.y - BLOCK_GAP
            } else {
                BOTTOM
            };
            if let Some(ops) = self.pages.get_mut(p)
                && y2 > y1
            {
                ops.push(Op::Line {
                    x1: x + 2.0,
                    y1,
                    x2: x + 2.0,
                    y2,
                    width: 2.5,
                    color: RULE_COLOR,
                });
            }
        }
    }
}

/// Draws `line` with its top at `top`, merging neighbouring pieces that
/// share face and look into one run (so the text layer keeps the spaces).
pub(crate) fn draw_line(ops: &mut Vec<Op>, line: &Line, x: f32, top: f32, size: f32) {
    let y = baseline(top, size);
    let mut cursor = x;
    let mut pending: Option<(f32, super::text::Look, Shaped)> = None;
    for piece in &line.pieces {
        let width = piece.width();
        match &mut pending {
            Some((_, look, run)) if *look == piece.look && run.face == piece.run.face => {
                run.append(&piece.run)
            }
            _ => {
                if let Some((px, look, run)) = pending.take() {
                    push_run(ops, px, y, look, run);
                }
                pending = Some((cursor, piece.look, piece.run.clone()));
            }
        }
        cursor += width;
    }
    if let Some((px, look, run)) = pending {
        push_run(ops, px, y, look, run);
    }
}

fn push_run(ops: &mut Vec<Op>, x: f32, y: f32, look: super::text::Look, run: Shaped) {
    let width = run.advance * look.size;
    let stroke = (look.size * 0.06).max(0.4);
    if look.underline {
        let uy = y + look.size * 0.14;
        ops.push(Op::Line {
            x1: x,
            y1: uy,
            x2: x + width,
            y2: uy,
            width: stroke,
            color: look.color,
        });
    }
    if look.strike {
        let sy = y - look.size * 0.3;
        ops.push(Op::Line {
            x1: x,
            y1: sy,
            x2: x + width,
            y2: sy,
            width: stroke,
            color: look.color,
        });
    }
    ops.push(Op::Text {
        x,
        y,
        size: look.size,
        color: look.color,
        run,
    });
}
