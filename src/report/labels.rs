//! Where a chart's action and milestone labels go so that no two overlap: each label takes
//! the first row in which it clears every label already there, and a label that would need
//! more than a few rows is replaced by a number explained in a legend under the chart. The
//! page has no script to measure text, so widths are estimated generously from the glyph
//! widths of common sans-serif fonts (DejaVu Sans is the widest of them): an estimate too
//! wide only costs a row, one too narrow would let labels run into each other
//! (`DETECTED` and `MITIGATED` 0.4 s apart once merged into `METECTED`).

/// Estimated width of `text` at `size` px in a sans-serif font, erring on the wide side.
pub fn text_width(text: &str, size: f64) -> f64 {
    let ems: f64 = text
        .chars()
        .map(|c| match c {
            'M' | 'W' | 'm' | 'w' | '@' | '%' => 1.0,
            'i' | 'j' | 'l' | 'I' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' => 0.34,
            ' ' | 'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '/' | '-' => 0.45,
            c if c.is_ascii_uppercase() => 0.8,
            c if c.is_ascii_digit() => 0.65,
            c if c.is_ascii() => 0.64,
            // Wide scripts and emoji: a full em.
            _ => 1.0,
        })
        .sum();
    ems * size
}

/// Horizontal room kept free between two labels in a row.
const GAP: f64 = 6.0;

/// A label placed: its row (0 is the top one), the x its text starts at, and whether it is
/// drawn as its number in the legend instead of its text.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    pub row: usize,
    /// The text drawn: the label, or its legend number.
    pub text: String,
    /// Left edge of the drawn text (drawn with `text-anchor="start"`).
    pub x: f64,
    /// The legend number, when the label went to the legend.
    pub number: Option<usize>,
}

/// Places labels, each wanted just right of its x (or just left of it near the right edge),
/// within `left..right`. Labels are taken in the order given (time order reads best).
pub fn place(
    labels: &[(f64, &str)],
    size: f64,
    left: f64,
    right: f64,
    max_rows: usize,
) -> Vec<Placed> {
    let mut rows: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut legend = 0;
    let mut out = Vec::with_capacity(labels.len());
    for (x, label) in labels {
        let full = span_at(*x, text_width(label, size), left, right);
        let (row, text, start, number) = match free_row(&rows, full, max_rows) {
            Some(row) => (row, label.to_string(), full.0, None),
            None => {
                legend += 1;
                let text = legend.to_string();
                let short = span_at(*x, text_width(&text, size), left, right);
                let row = free_row(&rows, short, usize::MAX).unwrap_or(rows.len());
                (row, text, short.0, Some(legend))
            }
        };
        let width = text_width(&text, size);
        if row == rows.len() {
            rows.push(Vec::new());
        }
        rows[row].push((start, start + width));
        out.push(Placed {
            row,
            text,
            x: start,
            number,
        });
    }
    out
}

/// The span a label of `width` takes next to the line at `x`: to its right, or to its left
/// when it would pass the right edge, never before `left`.
fn span_at(x: f64, width: f64, left: f64, right: f64) -> (f64, f64) {
    let start = if x + 3.0 + width <= right {
        x + 3.0
    } else {
        (x - 3.0 - width).max(left)
    };
    (start, start + width)
}

/// The first row (below `max_rows`, counting one new row) where `span` clears every label.
fn free_row(rows: &[Vec<(f64, f64)>], span: (f64, f64), max_rows: usize) -> Option<usize> {
    (0..=rows.len()).take(max_rows).find(|&row| {
        rows.get(row).is_none_or(|taken| {
            taken
                .iter()
                .all(|&(a, b)| span.1 + GAP <= a || b + GAP <= span.0)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_at_the_same_time_go_to_separate_rows() {
        let placed = place(
            &[(100.0, "DETECTED"), (101.0, "MITIGATED")],
            10.0,
            0.0,
            900.0,
            3,
        );
        assert_eq!(placed[0].row, 0);
        assert_eq!(placed[1].row, 1);
        assert!(placed.iter().all(|p| p.number.is_none()));
    }

    #[test]
    fn labels_far_apart_share_a_row() {
        let placed = place(
            &[(100.0, "DETECTED"), (400.0, "MITIGATED")],
            10.0,
            0.0,
            900.0,
            3,
        );
        assert_eq!((placed[0].row, placed[1].row), (0, 0));
    }

    #[test]
    fn a_label_past_the_right_edge_is_drawn_left_of_its_line() {
        let placed = place(&[(895.0, "RESOLVED")], 10.0, 0.0, 900.0, 3);
        assert!(placed[0].x + text_width("RESOLVED", 10.0) <= 895.0);
    }

    #[test]
    fn labels_past_the_last_row_are_numbered_for_the_legend() {
        let labels = [
            (10.0, "a_long_action"),
            (11.0, "DETECTED"),
            (12.0, "MITIGATED"),
            (13.0, "RESOLVED"),
        ];
        let placed = place(&labels, 10.0, 0.0, 900.0, 2);
        assert_eq!(placed[2].number, Some(1));
        assert_eq!(placed[2].text, "1");
        assert_eq!(placed[3].number, Some(2));
        // Numbers never overlap either.
        for (i, a) in placed.iter().enumerate() {
            for b in &placed[i + 1..] {
                if a.row == b.row {
                    let (wa, wb) = (text_width(&a.text, 10.0), text_width(&b.text, 10.0));
                    assert!(a.x + wa <= b.x || b.x + wb <= a.x, "{a:?} {b:?}");
                }
            }
        }
    }
}
