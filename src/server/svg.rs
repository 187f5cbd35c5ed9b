//! A picture of a ring, as SVG: the nodes on a circle at their
//! identifiers, each node's arc `(predecessor, node]` coloured as its own,
//! key counts beside them, and one node's fingers drawn as chords, in the
//! style of the paper's finger-table figure. A node's page serves it
//! (`server/http.rs`), and `chord-lab draw` writes it to a file.
//!
//! Positions are fractions of the circle: identifier / 2^m, clockwise from
//! the top, as the paper draws its rings.

use std::f64::consts::PI;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The nodes' colours: Okabe and Ito's palette for colour-blind readers,
/// less its yellow, which is too pale on white. Neighbours on the ring
/// always differ; past seven nodes, colours repeat around it.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// Node `i`'s colour; the last node of a ring whose size is one more than
/// a multiple of the palette's takes another than the first's, its
/// neighbour.
fn colour(i: usize, nodes: usize) -> RGBColor {
    let wraps = nodes % PALETTE.len() == 1 && i + 1 == nodes && nodes > 1;
    PALETTE[if wraps { 1 } else { i % PALETTE.len() }]
}

/// One node as the picture shows it.
#[derive(Clone, Debug)]
pub struct Point {
    /// Where it sits: identifier / 2^m, in `[0, 1)`.
    pub at: f64,
    /// Its label: a short identifier and its address.
    pub label: String,
    /// How many keys it holds, shown after the label; `None` when the
    /// label says all there is to say.
    pub keys: Option<u64>,
}

/// The fraction of the circle of an identifier printed as the text
/// protocol prints it (decimal for m <= 64, else hex, whole or its first
/// digits), in a `bits`-bit space; `None` for text that is neither.
pub fn position(id: &str, bits: u8) -> Option<f64> {
    if bits <= 64 {
        let value: u64 = id.parse().ok()?;
        return Some(value as f64 / 2f64.powi(i32::from(bits)));
    }
    // Hex, most significant digit first, so its first digits (whole or
    // as NODE prints them short) place it; 13 digits fill an f64.
    let head: String = id.chars().take(13).collect();
    let value = u64::from_str_radix(&head, 16).ok()?;
    Some(value as f64 / 16f64.powi(head.len() as i32))
}

/// Draws the ring of `nodes` (in ring order), with the fingers of
/// `chosen` (an index into `nodes`) as chords to the nodes at the given
/// positions; the SVG text, `size` pixels square.
///
/// # Errors
/// The drawing backend's error, as text.
pub fn ring_svg(
    nodes: &[Point],
    chosen: Option<(usize, Vec<f64>)>,
    size: u32,
) -> Result<String, String> {
    ring_svg_with_path(nodes, chosen, None, size)
}

/// A lookup to draw on the ring: the key's name, its position, and the
/// positions of the nodes the lookup went through, from the asking node to
/// the owner.
pub type Path = (String, f64, Vec<f64>);

/// As [`ring_svg`], with a lookup's path drawn on the ring too.
///
/// # Errors
/// The drawing backend's error, as text.
pub fn ring_svg_with_path(
    nodes: &[Point],
    chosen: Option<(usize, Vec<f64>)>,
    path: Option<Path>,
    size: u32,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (size, size)).into_drawing_area();
        let failed = |e: &dyn std::fmt::Display| e.to_string();
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        let centre = (f64::from(size) / 2.0, f64::from(size) / 2.0);
        let radius = f64::from(size) * 0.26;
        let point = |at: f64, r: f64| -> (i32, i32) {
            let angle = at * 2.0 * PI - PI / 2.0;
            (
                (centre.0 + r * angle.cos()).round() as i32,
                (centre.1 + r * angle.sin()).round() as i32,
            )
        };
        // Large enough to read projected: the backend writes a font of
        // size s as s / 1.24 px, so this is 17.7 px at 1,000 px; the ticks
        // and legend, at 0.9 of it, 16 px.
        let text_px = (f64::from(size) * 0.022).max(16.0);
        root.draw(&Circle::new(point(0.0, 0.0), radius as i32, BLACK.mix(0.2)))
            .map_err(|e| failed(&e))?;
        // Each node's arc (predecessor, node], in its colour.
        for (i, node) in nodes.iter().enumerate() {
            let colour = colour(i, nodes.len());
            let from = nodes[(i + nodes.len() - 1) % nodes.len()].at;
            let mut span = node.at - from;
            if span <= 0.0 {
                span += 1.0;
            }
            let steps = ((span * 360.0).ceil() as usize).max(2);
            let arc: Vec<(i32, i32)> = (0..=steps)
                .map(|s| point(from + span * s as f64 / steps as f64, radius))
                .collect();
            root.draw(&PathElement::new(arc, colour.stroke_width(6)))
                .map_err(|e| failed(&e))?;
        }
        // The chosen node's fingers, as chords.
        if let Some((i, targets)) = &chosen {
            let from = point(nodes[*i].at, radius);
            for target in targets {
                let to = point(*target, radius);
                root.draw(&PathElement::new(
                    vec![from, to],
                    BLACK.mix(0.5).stroke_width(1),
                ))
                .map_err(|e| failed(&e))?;
            }
        }
        if let Some((key, at, hops)) = &path {
            let red = RGBColor(200, 0, 0);
            let line: Vec<(i32, i32)> = hops.iter().map(|h| point(*h, radius)).collect();
            root.draw(&PathElement::new(line, red.stroke_width(3)))
                .map_err(|e| failed(&e))?;
            let mark = point(*at, radius);
            root.draw(&Cross::new(mark, 7, red.stroke_width(3)))
                .map_err(|e| failed(&e))?;
            let style = ("sans-serif", text_px)
                .into_font()
                .color(&red)
                .pos(Pos::new(HPos::Center, VPos::Center));
            // At the centre, where no node's label goes.
            let inside = point(0.0, 0.0);
            let count = hops.len().saturating_sub(2);
            let text = format!("{key}: {count} hop{}", if count == 1 { "" } else { "s" });
            // On white, so that chords through the centre do not cross it;
            // the width is a guess from the font size, ample for sans-serif.
            let half = (
                (text.chars().count() as f64 * text_px * 0.3) as i32,
                (text_px * 0.6) as i32,
            );
            root.draw(&Rectangle::new(
                [
                    (inside.0 - half.0, inside.1 - half.1),
                    (inside.0 + half.0, inside.1 + half.1),
                ],
                WHITE.filled(),
            ))
            .map_err(|e| failed(&e))?;
            root.draw(&Text::new(text, inside, style))
                .map_err(|e| failed(&e))?;
        }
        let font = ("sans-serif", text_px).into_font();
        let title = match &chosen {
            Some((i, targets)) => format!(
                "{} nodes; the fingers of {} ({} distinct)",
                nodes.len(),
                nodes[*i].label,
                targets.len()
            ),
            None => format!("{} nodes", nodes.len()),
        };
        // Up to 64 nodes every node is named; beyond, only the chosen node
        // and the nodes its fingers point at, or the names would pile up.
        let named = |i: usize, at: f64| {
            nodes.len() <= 64
                || chosen
                    .as_ref()
                    .is_some_and(|(c, targets)| *c == i || targets.contains(&at))
        };
        for (i, node) in nodes.iter().enumerate() {
            let is_chosen = chosen.as_ref().is_some_and(|(c, _)| *c == i);
            let dot = if is_chosen { 8 } else { 5 };
            root.draw(&Circle::new(
                point(node.at, radius),
                dot,
                colour(i, nodes.len()).filled(),
            ))
            .map_err(|e| failed(&e))?;
        }
        // Labels in two columns, right and left of the circle, each kept
        // in ring order and a line apart; a label moved off its dot's
        // height gets a leader line to it.
        let gap = text_px * 0.95;
        let (top, bottom) = (2.5 * text_px, f64::from(size) - 5.5 * text_px);
        // Many labels stand in straight columns beside the circle, clear of
        // it; a few stay by their dots.
        let crowded = nodes
            .iter()
            .enumerate()
            .filter(|(i, n)| named(*i, n.at))
            .count()
            > 16;
        let column = |right: bool| {
            let offset = radius + 1.5 * text_px;
            (if right {
                centre.0 + offset
            } else {
                centre.0 - offset
            })
            .round() as i32
        };
        for right in [true, false] {
            let mut side: Vec<(usize, (i32, i32))> = nodes
                .iter()
                .enumerate()
                .filter(|(i, n)| named(*i, n.at))
                .map(|(i, n)| (i, point(n.at, radius + 14.0)))
                .filter(|(_, (x, _))| (f64::from(*x) >= centre.0) == right)
                .collect();
            side.sort_by_key(|(_, (_, y))| *y);
            let wanted: Vec<f64> = side.iter().map(|(_, (_, y))| f64::from(*y)).collect();
            let rows = label_rows(&wanted, gap, top, bottom);
            let h = if right { HPos::Left } else { HPos::Right };
            let style = TextStyle::from(font.clone()).pos(Pos::new(h, VPos::Center));
            for ((i, (x, y)), row) in side.into_iter().zip(rows) {
                let node = &nodes[i];
                let x = if crowded { column(right) } else { x };
                let at = (x, row.round() as i32);
                if crowded || (row - f64::from(y)).abs() > 2.0 {
                    let dot = point(node.at, radius + 6.0);
                    let line = colour(i, nodes.len()).stroke_width(1);
                    root.draw(&PathElement::new(vec![dot, at], line))
                        .map_err(|e| failed(&e))?;
                }
                // Short when crowded, so that the columns fit the width.
                let text = match node.keys {
                    None => node.label.clone(),
                    Some(keys) if crowded => format!("{} ({keys})", node.label),
                    Some(keys) => {
                        let s = if keys == 1 { "" } else { "s" };
                        format!("{} ({keys} key{s})", node.label)
                    }
                };
                root.draw(&Text::new(text, at, style.clone()))
                    .map_err(|e| failed(&e))?;
            }
        }
        // Identifier ticks: 0 at the top, then each quarter, clockwise.
        let grey = RGBColor(90, 90, 90);
        let tick_style = TextStyle::from(("sans-serif", text_px * 0.9).into_font())
            .color(&grey)
            .pos(Pos::new(HPos::Center, VPos::Center));
        for (at, label) in [
            (0.0, "0"),
            (0.25, "2^m/4"),
            (0.5, "2^m/2"),
            (0.75, "3·2^m/4"),
        ] {
            let tick = vec![point(at, radius - 8.0), point(at, radius + 8.0)];
            root.draw(&PathElement::new(tick, grey.stroke_width(2)))
                .map_err(|e| failed(&e))?;
            root.draw(&Text::new(
                label,
                point(at, radius - 2.2 * text_px),
                tick_style.clone(),
            ))
            .map_err(|e| failed(&e))?;
        }
        let mut legend =
            vec!["coloured arc: the identifiers a node owns, (predecessor, node]".to_string()];
        if nodes.iter().any(|n| n.keys.is_some()) {
            legend.push("(k keys), or (k): the keys a node holds, replica copies included".into());
        }
        if chosen.is_some() {
            legend.push("grey chords: the chosen node's fingers".into());
        }
        if path.is_some() {
            legend.push("red: a lookup's path, from the node asked to the key's owner (x)".into());
        }
        let legend_style = TextStyle::from(("sans-serif", text_px * 0.9).into_font())
            .color(&grey)
            .pos(Pos::new(HPos::Left, VPos::Bottom));
        let line_px = (text_px * 1.15) as i32;
        let bottom = size as i32 - 8;
        for (k, line) in legend.iter().rev().enumerate() {
            let y = bottom - line_px * k as i32;
            root.draw(&Text::new(line.as_str(), (10, y), legend_style.clone()))
                .map_err(|e| failed(&e))?;
        }
        let style = TextStyle::from(("sans-serif", text_px * 1.15).into_font())
            .pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(title, (centre.0 as i32, 8), style))
            .map_err(|e| failed(&e))?;
        root.present().map_err(|e| failed(&e))?;
    }
    Ok(svg)
}

/// Where labels wanted at heights `wanted` (ascending) go: each at least
/// `gap` below the one before, all between `top` and `bottom` when they
/// fit, each as near its wanted height as that allows.
fn label_rows(wanted: &[f64], gap: f64, top: f64, bottom: f64) -> Vec<f64> {
    let mut rows: Vec<f64> = Vec::with_capacity(wanted.len());
    for &y in wanted {
        let floor = rows.last().map_or(top, |last| last + gap);
        rows.push(y.max(floor));
    }
    // Pushed past the bottom: push back up, as far as the top allows.
    let mut ceiling = bottom;
    for row in rows.iter_mut().rev() {
        *row = row.min(ceiling).max(top);
        ceiling = *row - gap;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_keep_their_order_a_line_apart_within_bounds() {
        let rows = label_rows(&[100.0, 101.0, 102.0, 300.0], 20.0, 50.0, 950.0);
        assert_eq!(rows, [100.0, 120.0, 140.0, 300.0]);
        // Crowded at the bottom: pushed up, still a line apart.
        let rows = label_rows(&[940.0, 945.0, 950.0], 20.0, 50.0, 950.0);
        assert_eq!(rows, [910.0, 930.0, 950.0]);
        // Crowded at the top: pushed down.
        let rows = label_rows(&[0.0, 0.0], 20.0, 50.0, 950.0);
        assert_eq!(rows, [50.0, 70.0]);
    }

    #[test]
    fn positions_read_both_ways_identifiers_print() {
        assert_eq!(position("32", 6), Some(0.5));
        assert_eq!(position("0", 6), Some(0.0));
        let half = format!("8{}", "0".repeat(39));
        assert!((position(&half, 160).unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(position("zz", 160), None);
    }

    #[test]
    fn every_node_appears_in_a_small_picture_and_fingers_in_a_large_one() {
        let nodes: Vec<Point> = (0..8)
            .map(|i| Point {
                at: f64::from(i) / 8.0,
                label: format!("node-{i}"),
                keys: Some(i as u64),
            })
            .collect();
        let svg = ring_svg(&nodes, Some((0, vec![0.125, 0.5])), 1000).unwrap();
        for i in 0..8 {
            let keys = if i == 1 { "key" } else { "keys" };
            assert!(svg.contains(&format!("node-{i} ({i} {keys})")), "node-{i}");
        }
        // Fit to project: no text under 16 px at 1,000 px, a legend, 0 marked.
        let sizes: Vec<f64> = svg
            .split("font-size=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next()?.parse().ok())
            .collect();
        assert!(
            !sizes.is_empty() && sizes.iter().all(|px| *px >= 15.9),
            "{sizes:?}"
        );
        assert!(svg.contains("coloured arc: the identifiers a node owns"));
        assert!(
            svg.lines().any(|l| l.trim() == "0"),
            "the identifier 0 is marked"
        );
        assert!(svg.contains("the fingers of node-0 (2 distinct)"));
        let ring = |n: u32| -> Vec<Point> {
            (0..n)
                .map(|i| Point {
                    at: f64::from(i) / f64::from(n),
                    label: format!("n{i}"),
                    keys: Some(0),
                })
                .collect()
        };
        // Up to 64 nodes, every node is named, in two columns.
        let svg = ring_svg(&ring(64), Some((0, vec![0.5])), 1000).unwrap();
        assert_eq!(svg.matches("<circle").count(), 65, "the ring and 64 nodes");
        assert!((0..64).all(|i| svg.contains(&format!("n{i} (0)"))));
        // Beyond, the chosen node and its fingers' nodes only.
        let svg = ring_svg(&ring(100), Some((0, vec![0.5])), 1000).unwrap();
        assert!(svg.contains("n50 (0 keys)") && !svg.contains("n49 ("));
    }
}
