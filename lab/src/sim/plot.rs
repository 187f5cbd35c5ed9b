//! The simulator's CSV files drawn as SVG line charts (with plotters'
//! SVG backend): one chart per file, x from one column, a line per other
//! column named in the chart's spec.

use plotters::prelude::*;

/// How to draw one CSV file. An empty cell is a point not drawn: the
/// paper's values exist only where the paper reports them.
pub struct Chart {
    /// The CSV file it draws.
    pub csv: &'static str,
    /// The SVG file it makes (a CSV can make two: fractions and counts do
    /// not share an axis).
    pub svg: &'static str,
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
        svg: "path_length.svg",
        title: "Path length against the number of nodes",
        x: ("nodes", "number of nodes N (log scale)"),
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
        svg: "path_length_pdf_4096.svg",
        title: "Path length distribution, 4,096 nodes",
        x: ("hops", "hops"),
        lines: &[("fraction", "fraction of lookups")],
        y_label: "fraction",
        log2_x: false,
    },
    Chart {
        csv: "load.csv",
        svg: "load.svg",
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
        svg: "load_pdf_500000.svg",
        title: "Keys per node at 500,000 keys",
        x: ("keys_per_node", "keys per node"),
        lines: &[("fraction_of_nodes", "fraction of nodes")],
        y_label: "fraction",
        log2_x: false,
    },
    Chart {
        csv: "load_virtual_nodes.csv",
        svg: "load_virtual_nodes.svg",
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
        svg: "failures.svg",
        title: "Lookups after a simultaneous failure, before stabilization",
        x: ("failed_fraction", "fraction of nodes failed"),
        lines: &[
            ("failed_lookups", "failed lookups (ours)"),
            (
                "failed_as_paper_counts",
                "failed or key lost (the paper's count)",
            ),
            ("paper_failed_lookups", "paper: about the failed fraction"),
        ],
        y_label: "fraction of lookups",
        log2_x: false,
    },
    Chart {
        csv: "failures.csv",
        svg: "failures_timeouts.svg",
        title: "Timeouts per lookup after a simultaneous failure",
        x: ("failed_fraction", "fraction of nodes failed"),
        lines: &[
            ("mean_timeouts", "mean"),
            ("p99_timeouts", "99th percentile"),
        ],
        y_label: "timeouts per lookup",
        log2_x: false,
    },
    Chart {
        csv: "churn.csv",
        svg: "churn.svg",
        title: "Failed lookups while nodes join and fail (1,000 nodes)",
        x: ("rate_per_s", "joins (and failures) per second"),
        lines: &[("failed_lookups", "failed lookups")],
        y_label: "fraction of lookups",
        log2_x: false,
    },
    Chart {
        csv: "churn.csv",
        svg: "churn_timeouts.svg",
        title: "Timeouts per lookup while nodes join and fail (1,000 nodes)",
        x: ("rate_per_s", "joins (and failures) per second"),
        lines: &[("mean_timeouts", "timeouts per lookup (mean)")],
        y_label: "timeouts per lookup",
        log2_x: false,
    },
    Chart {
        csv: "churn_loss.csv",
        svg: "churn_loss.svg",
        title: "Failed lookups under churn (0.1 joins/s) with messages lost",
        x: ("loss", "fraction of messages lost"),
        lines: &[("failed_lookups", "failed lookups")],
        y_label: "fraction of lookups",
        log2_x: false,
    },
    Chart {
        csv: "churn_loss.csv",
        svg: "churn_loss_timeouts.svg",
        title: "Timeouts per lookup under churn (0.1 joins/s) with messages lost",
        x: ("loss", "fraction of messages lost"),
        lines: &[("mean_timeouts", "timeouts per lookup (mean)")],
        y_label: "timeouts per lookup",
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
    // A little room each side, so that no end tick or point is clipped.
    let pad = (x1 - x0) * 0.03;
    let (x0, x1) = (x0 - pad, x1 + pad);
    let log2_x = chart.log2_x;
    let x_tick = move |x: &f64| {
        if log2_x {
            // The axis is log2 N; its ticks say N.
            tick(&2f64.powf(*x))
        } else {
            tick(x)
        }
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 620)).into_drawing_area();
        let failed = |e: &dyn std::fmt::Display| format!("{}: {e}", chart.csv);
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        let mut plot = ChartBuilder::on(&root)
            .caption(chart.title, ("sans-serif", 30))
            .margin(16)
            .x_label_area_size(64)
            .y_label_area_size(90)
            .build_cartesian_2d(x0..x1, 0f64..(y1 * 1.1).max(1e-9))
            .map_err(|e| failed(&e))?;
        plot.configure_mesh()
            .x_desc(chart.x.1)
            .y_desc(chart.y_label)
            .x_label_formatter(&x_tick)
            .y_label_formatter(&tick)
            .label_style(("sans-serif", 22))
            .axis_desc_style(("sans-serif", 24))
            .draw()
            .map_err(|e| failed(&e))?;
        for (i, (label, points)) in series.into_iter().enumerate() {
            // The ring picture's colour-blind-safe colours.
            let colour = chord::server::svg::PALETTE[i % chord::server::svg::PALETTE.len()];
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
            plot.draw_series(LineSeries::new(points.clone(), colour.stroke_width(3)))
                .map_err(|e| failed(&e))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
                });
            plot.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, colour.filled())),
            )
            .map_err(|e| failed(&e))?;
        }
        plot.configure_series_labels()
            .label_font(("sans-serif", 22))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| failed(&e))?;
        root.present().map_err(|e| failed(&e))?;
    }
    Ok(svg)
}

/// A tick's label: a whole number without decimals, else at most three
/// significant decimals, trailing zeros dropped.
fn tick(value: &f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        return format!("{:.0}", value.round());
    }
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
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

    #[test]
    fn ticks_are_whole_where_the_numbers_are_and_the_n_axis_says_n() {
        assert_eq!(tick(&100000.0), "100000");
        assert_eq!(tick(&4.0), "4");
        assert_eq!(tick(&0.25), "0.25");
        assert_eq!(tick(&(0.1 + 0.2)), "0.3");
        let csv = "nodes,mean_hops,p1_hops,p99_hops,paper_half_log2_n\n8,1,0,2,1.5\n1024,5,2,8,5\n";
        let svg = draw(&CHARTS[0], csv).unwrap();
        assert!(
            svg.contains(">\n1024\n<") || svg.contains(">1024<"),
            "N itself on the axis"
        );
        assert!(!svg.contains("100000.0"));
    }

    #[test]
    fn fractions_and_timeouts_never_share_an_axis() {
        for chart in CHARTS {
            let counts = chart.lines.iter().any(|(c, _)| c.contains("timeouts"));
            let fractions = chart.lines.iter().any(|(c, _)| c.contains("failed"));
            assert!(!(counts && fractions), "{} mixes them", chart.svg);
        }
    }
}
