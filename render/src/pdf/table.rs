//! Tables: column widths, shrinking and splitting wide tables, rows across
//! pages.
//!
//! Widths follow the usual automatic table layout: each column wants its
//! widest line (`natural`) and needs at least its longest word (`minimum`,
//! capped so one long token cannot take the table); the room between the
//! two is shared in proportion. A table whose minimums do not fit is set
//! smaller, down to [`MIN_TABLE_SIZE`]; if that is not enough it is set at
//! [`SPLIT_TABLE_SIZE`] and split into groups of columns printed one after
//! another, each repeating the
//! first column so every row can still be identified. Rows taller than the
//! page are split between lines, and the header row is repeated on every
//! page a table continues onto.

use super::layout::{BOTTOM, LEADING, Layout, Op, TOP, draw_line};
use super::text::{Line, Rgb, TextStyle, Token, tokenize, wrap};
use crate::model::{Align, Table};

/// Table text is a little smaller than body text: tables are dense.
const TABLE_SIZE: f32 = 9.0;
/// Below 7 pt print gets hard to read; wider tables are split instead.
const MIN_TABLE_SIZE: f32 = 7.0;
/// The size of a table too wide even at [`MIN_TABLE_SIZE`]: it is split
/// into column groups anyway, so it need not be set that small.
const SPLIT_TABLE_SIZE: f32 = 8.0;
/// Space between a cell's border and its text.
const PAD: f32 = 3.5;
/// A column holding long words is never made narrower than about this many
/// ems, unless its content is narrower.
const MIN_COLUMN_EMS: f32 = 4.0;
/// No single column's minimum may take more than this share of the width.
const MAX_MINIMUM_SHARE: f32 = 0.45;
/// The first column is repeated in every column group if it is at most this
/// share of the width.
const MAX_KEY_SHARE: f32 = 0.3;

const BORDER: Rgb = Rgb(0xb8, 0xc0, 0xc8);
const HEADER_BACKGROUND: Rgb = Rgb(0xe8, 0xec, 0xf0);
const STRIPE: Rgb = Rgb(0xf7, 0xf8, 0xfa);
const CAPTION_INK: Rgb = Rgb(0x57, 0x60, 0x6a);

struct Cell {
    tokens: Vec<Token>,
}

impl Cell {
    /// Widest hard line and widest word, in points.
    fn measure(&self) -> (f32, f32) {
        let (mut natural, mut longest, mut run) = (0.0f32, 0.0f32, 0.0f32);
        for token in &self.tokens {
            match token {
                Token::Break => run = 0.0,
                Token::Word(_) => {
                    let w = token.width();
                    longest = longest.max(w);
                    run += w;
                }
                Token::Space(_) => run += token.width(),
            }
            natural = natural.max(run);
        }
        (natural, longest)
    }

    fn rescale(&mut self, factor: f32) {
        for token in &mut self.tokens {
            match token {
                Token::Word(pieces) => pieces.iter_mut().for_each(|p| p.look.size *= factor),
                Token::Space(p) => p.look.size *= factor,
                Token::Break => {}
            }
        }
    }
}

/// What a row is, for its background.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RowKind {
    Header,
    Body { striped: bool },
}

/// A column group's geometry.
struct Columns<'a> {
    /// Left edge of each column, then the right edge of the last.
    edges: Vec<f32>,
    aligns: Vec<Align>,
    size: f32,
    header: Option<&'a [Vec<Line>]>,
}

impl Columns<'_> {
    fn line_height(&self) -> f32 {
        self.size * LEADING
    }

    fn left(&self) -> f32 {
        self.edges.first().copied().unwrap_or(0.0)
    }

    fn right(&self) -> f32 {
        self.edges.last().copied().unwrap_or(0.0)
    }

    fn row_height(&self, cells: &[Vec<Line>]) -> f32 {
        let lines = cells.iter().map(Vec::len).max().unwrap_or(0).max(1);
        lines as f32 * self.line_height() + 2.0 * PAD
    }
}

impl Layout<'_> {
    pub(crate) fn table(&mut self, table: &Table, x: f32, width: f32) {
        let columns = table.aligns.len();
        if columns == 0 {
            return;
        }
        let header_style = TextStyle {
            bold: true,
            ..TextStyle::body(TABLE_SIZE)
        };
        let mut header: Vec<Cell> = table
            .header
            .iter()
            .map(|c| Cell {
                tokens: tokenize(self.fonts, c, header_style),
            })
            .collect();
        let mut rows: Vec<Vec<Cell>> = table
            .rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|c| Cell {
                        tokens: tokenize(self.fonts, c, TextStyle::body(TABLE_SIZE)),
                    })
                    .collect()
            })
            .collect();

        let mut size = TABLE_SIZE;
        let (mut natural, mut minimum) = widths(&header, &rows, columns, size, width);
        let needed: f32 = minimum.iter().sum();
        if needed > width {
            let fitting = size * width / needed;
            let smaller = if fitting >= MIN_TABLE_SIZE {
                fitting
            } else {
                SPLIT_TABLE_SIZE
            };
            let factor = smaller / size;
            header
                .iter_mut()
                .chain(rows.iter_mut().flatten())
                .for_each(|c| c.rescale(factor));
            size = smaller;
            (natural, minimum) = widths(&header, &rows, columns, size, width);
        }

        let groups = column_groups(&minimum, width);
        for (g, group) in groups.iter().enumerate() {
            if groups.len() > 1 {
                self.caption(group, columns, g > 0, x, width);
            }
            let col_widths = group_widths(group, &natural, &minimum, width);
            let mut edges = vec![x];
            let mut right = x;
            for w in &col_widths {
                right += w;
                edges.push(right);
            }
            let fonts = self.fonts;
            let wrap_cells = |cells: &[Cell]| -> Vec<Vec<Line>> {
                group
                    .iter()
                    .zip(&col_widths)
                    .map(|(&c, w)| {
                        cells
                            .get(c)
                            .map_or_else(Vec::new, |cell| wrap(fonts, &cell.tokens, w - 2.0 * PAD))
                    })
                    .collect()
            };
            let header_lines = wrap_cells(&header);
            let aligns = group
                .iter()
                .map(|&c| table.aligns.get(c).copied().unwrap_or(Align::Left))
                .collect();
            let mut geometry = Columns {
                edges,
                aligns,
                size,
                header: None,
            };
            let header_height = geometry.row_height(&header_lines);
            // A header taller than a third of the page is not repeated.
            if header_height <= (BOTTOM - TOP) / 3.0 {
                geometry.header = Some(&header_lines);
            }

            let first_row = rows.first().map(|r| wrap_cells(r));
            let first_height = first_row.as_ref().map_or(0.0, |r| {
                geometry
                    .row_height(r)
                    .min(2.0 * PAD + 2.0 * geometry.line_height())
            });
            self.ensure(header_height + first_height);
            self.table_row(&header_lines, &geometry, RowKind::Header);
            for (i, row) in rows.iter().enumerate() {
                let lines = match (i, &first_row) {
                    (0, Some(first)) => first.clone(),
                    _ => wrap_cells(row),
                };
                self.table_row(
                    &lines,
                    &geometry,
                    RowKind::Body {
                        striped: i % 2 == 1,
                    },
                );
            }
            if g + 1 < groups.len() {
                self.y += 8.0;
            }
        }
    }

    /// "Columns 1, 7–12 of 40" above each group of a split table.
    fn caption(&mut self, group: &[usize], columns: usize, continued: bool, x: f32, width: f32) {
        let mut text = String::from("Columns ");
        let mut parts: Vec<String> = Vec::new();
        let mut i = 0;
        while i < group.len() {
            let start = group.get(i).copied().unwrap_or(0);
            let mut end = start;
            while group.get(i + 1).is_some_and(|&n| n == end + 1) {
                end += 1;
                i += 1;
            }
            parts.push(if end > start {
                format!("{}–{}", start + 1, end + 1)
            } else {
                (start + 1).to_string()
            });
            i += 1;
        }
        text.push_str(&parts.join(", "));
        text.push_str(&format!(" of {columns}"));
        if continued {
            text.push_str(" (continued)");
        }
        let style = TextStyle {
            italic: true,
            color: CAPTION_INK,
            ..TextStyle::body(8.0)
        };
        self.ensure(8.0 * LEADING * 4.0);
        let content = [crate::model::Inline::Text(
            text,
            crate::model::Style::default(),
        )];
        self.paragraph(&content, style, x, width);
        self.y += 1.0;
    }

    /// Draws one row, splitting it between lines across pages if needed.
    fn table_row(&mut self, cells: &[Vec<Line>], geometry: &Columns<'_>, kind: RowKind) {
        let line_height = geometry.line_height();
        let total = cells.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let header_height = geometry.header.map_or(0.0, |h| geometry.row_height(h));
        let mut from = 0;
        // Right after a page break only the repeated header is on the page:
        // the row must then make progress whatever the room.
        let mut fresh = self.at_page_top();
        while from < total {
            let need = (total - from) as f32 * line_height + 2.0 * PAD;
            let room = BOTTOM - self.y;
            if need <= room + 0.01 {
                self.row_slice(cells, from, total, geometry, kind);
                return;
            }
            let fits_on_fresh_page = need <= BOTTOM - TOP - header_height;
            let mut take = ((room - 2.0 * PAD) / line_height).floor().max(0.0) as usize;
            if !fresh && (from == 0 && fits_on_fresh_page || take < 2.min(total - from)) {
                self.table_page_break(geometry, kind);
                fresh = true;
                continue;
            }
            take = take.max(1).min(total - from);
            self.row_slice(cells, from, from + take, geometry, kind);
            from += take;
            if from < total {
                self.table_page_break(geometry, kind);
                fresh = true;
            }
        }
    }

    fn table_page_break(&mut self, geometry: &Columns<'_>, kind: RowKind) {
        self.new_page();
        if kind != RowKind::Header
            && let Some(header) = geometry.header
        {
            let total = header.iter().map(Vec::len).max().unwrap_or(0).max(1);
            self.row_slice(header, 0, total, geometry, RowKind::Header);
        }
    }

    /// Draws lines `from..to` of every cell as one band with borders.
    fn row_slice(
        &mut self,
        cells: &[Vec<Line>],
        from: usize,
        to: usize,
        geometry: &Columns<'_>,
        kind: RowKind,
    ) {
        let line_height = geometry.line_height();
        let height = (to - from) as f32 * line_height + 2.0 * PAD;
        let top = self.y;
        let (left, right) = (geometry.left(), geometry.right());
        let background = match kind {
            RowKind::Header => Some(HEADER_BACKGROUND),
            RowKind::Body { striped: true } => Some(STRIPE),
            RowKind::Body { striped: false } => None,
        };
        let ops = self.ops();
        if let Some(color) = background {
            ops.push(Op::Rect {
                x: left,
                y: top,
                w: right - left,
                h: height,
                color,
            });
        }
        for (c, lines) in cells.iter().enumerate() {
            let (Some(&cx), Some(&cx_end)) = (geometry.edges.get(c), geometry.edges.get(c + 1))
            else {
                continue;
            };
            let inner = cx_end - cx - 2.0 * PAD;
            let align = geometry.aligns.get(c).copied().unwrap_or(Align::Left);
            for (j, line) in lines.iter().enumerate().skip(from).take(to - from) {
                let slack = (inner - line.width).max(0.0);
                let offset = match align {
                    Align::Left => 0.0,
                    Align::Center => slack / 2.0,
                    Align::Right => slack,
                };
                let line_top = top + PAD + (j - from) as f32 * line_height;
                draw_line(ops, line, cx + PAD + offset, line_top, geometry.size);
            }
        }
        let stroke = |x1: f32, y1: f32, x2: f32, y2: f32| Op::Line {
            x1,
            y1,
            x2,
            y2,
            width: 0.5,
            color: BORDER,
        };
        ops.push(stroke(left, top, right, top));
        ops.push(stroke(left, top + height, right, top + height));
        for &edge in &geometry.edges {
            ops.push(stroke(edge, top, edge, top + height));
        }
        self.y = top + height;
    }
}

/// Natural and minimum width of every column, padding included.
fn widths(
    header: &[Cell],
    rows: &[Vec<Cell>],
    columns: usize,
    size: f32,
    width: f32,
) -> (Vec<f32>, Vec<f32>) {
    let mut natural = vec![0.0f32; columns];
    let mut longest = vec![0.0f32; columns];
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        for (c, cell) in row.iter().enumerate().take(columns) {
            let (n, l) = cell.measure();
            if let (Some(nat), Some(lon)) = (natural.get_mut(c), longest.get_mut(c)) {
                *nat = nat.max(n + 2.0 * PAD);
                *lon = lon.max(l + 2.0 * PAD);
            }
        }
    }
    let floor = MIN_COLUMN_EMS * size + 2.0 * PAD;
    let cap = (width * MAX_MINIMUM_SHARE).max(floor);
    let minimum = natural
        .iter()
        .zip(&longest)
        .map(|(&n, &l)| n.min(l.clamp(floor, cap)))
        .collect();
    (natural, minimum)
}

/// Splits columns into groups whose minimums fit `width`; groups after the
/// first start with column 0 when it is narrow enough to repeat.
fn column_groups(minimum: &[f32], width: f32) -> Vec<Vec<usize>> {
    let key = minimum.first().copied().unwrap_or(0.0);
    let repeat_key = key <= width * MAX_KEY_SHARE;
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let (mut current, mut used, mut own) = (Vec::new(), 0.0, 0usize);
    for (c, &min) in minimum.iter().enumerate() {
        if own > 0 && used + min > width {
            groups.push(std::mem::take(&mut current));
            (used, own) = (0.0, 0);
            if repeat_key {
                current.push(0);
                used = key;
            }
        }
        current.push(c);
        used += min;
        own += 1;
    }
    if own > 0 {
        groups.push(current);
    }
    groups
}

/// Widths for one group: natural if it fits, else minimum plus a share of
/// the room left in proportion to what each column still wants.
fn group_widths(group: &[usize], natural: &[f32], minimum: &[f32], width: f32) -> Vec<f32> {
    let nat: Vec<f32> = group
        .iter()
        .map(|&c| natural.get(c).copied().unwrap_or(0.0))
        .collect();
    let min: Vec<f32> = group
        .iter()
        .map(|&c| minimum.get(c).copied().unwrap_or(0.0))
        .collect();
    let (nat_sum, min_sum): (f32, f32) = (nat.iter().sum(), min.iter().sum());
    if nat_sum <= width {
        return nat;
    }
    if min_sum >= width || nat_sum <= min_sum {
        let factor = if min_sum > 0.0 { width / min_sum } else { 1.0 };
        return min.iter().map(|m| m * factor).collect();
    }
    let share = (width - min_sum) / (nat_sum - min_sum);
    nat.iter()
        .zip(&min)
        .map(|(n, m)| m + (n - m) * share)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_repeat_the_first_column() {
        let minimum = vec![50.0; 10];
        let groups = column_groups(&minimum, 200.0);
        assert_eq!(
            groups,
            vec![vec![0, 1, 2, 3], vec![0, 4, 5, 6], vec![0, 7, 8, 9]]
        );
    }

    #[test]
    fn widths_share_the_room_by_what_columns_want() {
        let w = group_widths(&[0, 1], &[100.0, 500.0], &[50.0, 100.0], 300.0);
        // 150 pt of room shared over 450 pt of want: a third each.
        assert!(
            (w[0] - (50.0 + 50.0 / 3.0)).abs() < 0.01
                && (w[1] - (100.0 + 400.0 / 3.0)).abs() < 0.01,
            "{w:?}"
        );
        assert_eq!(
            group_widths(&[0, 1], &[40.0, 60.0], &[20.0, 20.0], 300.0),
            vec![40.0, 60.0]
        );
    }
}
