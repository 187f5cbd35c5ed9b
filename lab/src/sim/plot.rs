//! The simulator's CSV files drawn as SVG line charts (with plotters'
//! SVG backend): one chart per file, x from one column, a line per other
//! column named in the chart's spec.

use plotters::prelude::*;

/// How to draw one CSV file. An empty cell is a point not drawn: the
/// paper's values exist only where the paper reports them.
pub struct Chart {
    /// The CSV file it draws.
    pub csv: &'static str,
    /// The title above it.
    pub title: &'static str,
    /// The x column and its axis label.
    pub x: (&'static str, &'static str),
    /// The y columns, each with its legend label.
    pub lines: &'static [(&'static str, &'static str)],
    /// The y axis label.
    pub y_label: &'static str,
    /// Whether x is drawn as log2 of its value.
    pub log2_x: bool,
}

/// The charts of every figure.
pub const CHARTS: &[Chart] = &[
    Chart {
        csv: "path_length.csv",
        title: "Path length against the number of nodes",
        x: ("nodes", "log2 of the number of nodes"),
        lines: &[
            ("mean_hops", "mean (ours)"),
            ("p1_hops", "1st percentile"),
            ("p99_hops", "99th percentile"),
            ("paper_half_log2_n", "paper: 1/2 log2 N"),
        ],
        y_label: "hops per lookup",
        log2_x: true,
    },
    Chart {
        csv: "path_length_pdf_4096.csv",
        title: "Path length distribution, 4,096 nodes",
        x: ("hops", "hops"),
        lines: &[("fraction", "fraction of lookups")],
        y_label: "fraction",
        log2_x: false,
    },
    Chart {
        csv: "load.csv",
        title: "Keys per node, 10,000 nodes",
        x: ("keys", "total keys"),
        lines: &[
            ("mean", "mean"),
            ("p1", "1st percentile"),
            ("p99", "99th percentile"),
            ("paper_p99", "paper: 99th percentile at 5x10^5 keys"),
        ],
        y_label: "keys per node",
        log2_x: false,
    },
    Chart {
        csv: "load_pdf_500000.csv",
        title: "Keys per node at 500,000 keys",
        x: ("keys_per_node", "keys per node"),
        lines: &[("fraction_of_nodes", "fraction of nodes")],
        y_label: "fraction",
        log2_x: false,
    },
    Chart {
        csv: "load_virtual_nodes.csv",
        title: "Keys per node with virtual nodes (10^4 nodes, 10^6 keys)",
        x: ("virtual_nodes_per_node", "virtual nodes per real node"),
        lines: &[
            ("mean", "mean"),
            ("p1", "1st percentile"),
            ("p99", "99th percentile"),
            ("paper_p1", "paper: 1st percentile"),
            ("paper_p99", "paper: 99th percentile"),
        ],
        y_label: "keys per real node",
        log2_x: false,
    },
    Chart {
        csv: "failures.csv",
        title: "Lookups after a simultaneous failure, before stabilization",
        x: ("failed_fraction", "fraction of nodes failed"),
        lines: &[
            ("failed_lookups", "failed lookups (ours)"),
            (
                "failed_as_paper_counts",
                "failed or key lost (the paper's count)",
            ),
            ("paper_failed_lookups", "paper: about the failed fraction"),
            ("mean_timeouts", "timeouts per lookup (mean)"),
        ],
        y_label: "fraction / timeouts",
        log2_x: false,
    },
    Chart {
        csv: "churn.csv",
        title: "Lookups while nodes join and fail (1,000 nodes)",
        x: ("rate_per_s", "joins (and failures) per second"),
        lines: &[
            ("failed_lookups", "failed lookups"),
            ("mean_timeouts", "timeouts per lookup"),
        ],
        y_label: "fraction / timeouts",
        log2_x: false,
    },
    Chart {
        csv: "churn_loss.csv",
        title: "Lookups under churn (0.1 joins/s) with messages lost",
        x: ("loss", "fraction of messages lost"),
        lines: &[
            ("failed_lookups", "failed lookups"),
            ("mean_timeouts", "timeouts per lookup"),
        ],
        y_label: "fraction / timeouts",
        log2_x: false,
    },
];

/// Draws `csv` as `chart`; the SVG text.
///
/// # Errors
/// A column the chart names is missing, or a cell is not a number.
pub fn draw(chart: &Chart, csv: &str) -> Result<String, String> {
    let mut rows = csv.lines();
    let header: Vec<&str> = rows.next().unwrap_or("").split(',').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| format!("{}: no column {name}", chart.csv))
    };
    let table: Vec<Vec<Option<f64>>> = rows
        .map(|row| {
            row.split(',')
                .map(|cell| match cell {
                    "" => Ok(None),
                    _ => cell
                        .parse::<f64>()
                        .map(Some)
                        .map_err(|e| format!("{}: {cell:?}: {e}", chart.csv)),
                })
                .collect()
        })
        .collect::<Result<_, _>>()?;
    let x_at = column(chart.x.0)?;
    let x_of = |row: &[Option<f64>]| {
        let x = row.get(x_at).copied().flatten()?;
        Some(if chart.log2_x { x.log2() } else { x })
    };
    let mut series = Vec::new();
    for (name, label) in chart.lines {
        let at = column(name)?;
        let points: Vec<(f64, f64)> = table
            .iter()
            .filter_map(|row| Some((x_of(row)?, row.get(at).copied().flatten()?)))
            .collect();
        series.push((*label, points));
    }
    let all = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y1) = (f64::MAX, f64::MIN, 0f64);
    for (x, y) in all {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y1 = y1.max(*y);
    }
    if x0 >= x1 {
        x1 = x0 + 1.0;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 440)).into_drawing_area();
        let failed = |e: &dyn std::fmt::Display| format!("{}: {e}", chart.csv);
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        let mut plot = ChartBuilder::on(&root)
            .caption(chart.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, 0f64..(y1 * 1.1).max(1e-9))
            .map_err(|e| failed(&e))?;
        plot.configure_mesh()
            .x_desc(chart.x.1)
            .y_desc(chart.y_label)
            .draw()
            .map_err(|e| failed(&e))?;
        for (i, (label, points)) in series.into_iter().enumerate() {
            let colour = Palette99::pick(i).to_rgba();
            if points.len() < table.len() {
                // Values only where the paper reports them: marks, with no
                // line to suggest values in between.
                plot.draw_series(
                    points
                        .into_iter()
                        .map(|p| Cross::new(p, 7, colour.stroke_width(3))),
                )
                .map_err(|e| failed(&e))?
                .label(label)
                .legend(move |(x, y)| Cross::new((x + 10, y), 5, colour.stroke_width(2)));
                continue;
            }
            plot.draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                .map_err(|e| failed(&e))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
            plot.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, colour.filled())),
            )
            .map_err(|e| failed(&e))?;
        }
        plot.configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| failed(&e))?;
        root.present().map_err(|e| failed(&e))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_names_its_series_and_refuses_missing_columns() {
        let csv = "nodes,mean_hops,p1_hops,p99_hops,paper_half_log2_n\n8,1,0,2,1.5\n16,1.5,0,3,2\n";
        let svg = draw(&CHARTS[0], csv).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(svg.contains("paper: 1/2 log2 N"));
        assert!(draw(&CHARTS[0], "nodes\n8\n").is_err());
        // The paper's value only where it reports one: the row still draws.
        let sparse = "nodes,mean_hops,p1_hops,p99_hops,paper_half_log2_n\n8,1,0,2,\n16,1.5,0,3,2\n";
        assert!(draw(&CHARTS[0], sparse).is_ok());
    }
}
