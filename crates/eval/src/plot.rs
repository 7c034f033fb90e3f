//! PNG plots: ROC curves and human-vs-machine score histograms.
//!
//! Rendering uses `plotters`' bitmap backend with the DejaVu Sans font embedded
//! in the binary (crate `dejavu`), so no system font (fontconfig) is needed.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use super::{check_len, EvalError, Result};

static FONT_INIT: Once = Once::new();

fn ensure_font() {
    FONT_INIT.call_once(|| {
        // Registering the same bytes can only fail if they are not a font,
        // which is a build-time invariant of the `dejavu` crate.
        let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
        let _ = register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

fn perr<E: std::fmt::Display>(e: E) -> EvalError {
    EvalError::Plot(e.to_string())
}

/// Options for [`plot_roc_with`].
#[derive(Debug, Clone, PartialEq)]
pub struct RocPlotOptions {
    /// Chart title.
    pub title: String,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Logarithmic FPR axis (from `min_fpr` to 1) to show the low-FPR regime;
    /// points with FPR below `min_fpr` are clamped to it.
    pub log_x: bool,
    /// Left edge of the log axis.
    pub min_fpr: f64,
    /// Append `(AUC=…)` (trapezoidal area of the given points) to legend names.
    pub show_auc: bool,
}

impl Default for RocPlotOptions {
    fn default() -> Self {
        RocPlotOptions {
            title: "ROC curve".into(),
            width: 900,
            height: 750,
            log_x: false,
            min_fpr: 1e-4,
            show_auc: true,
        }
    }
}

fn trapezoid(x: &[f64], y: &[f64]) -> f64 {
    x.windows(2).zip(y.windows(2)).map(|(xw, yw)| (xw[1] - xw[0]) * (yw[0] + yw[1]) / 2.0).sum()
}

fn series_color(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    PALETTE[i % PALETTE.len()]
}

/// ROC curves (linear axes) with default options. `curves`: `(name, fpr, tpr)`,
/// e.g. from [`super::RocCurve`]. Writes a PNG to `path`.
pub fn plot_roc<P: AsRef<Path>>(path: P, curves: &[(&str, &[f64], &[f64])]) -> Result<()> {
    plot_roc_with(path, curves, &RocPlotOptions::default())
}

/// ROC curves with explicit options (title, size, log-FPR axis, AUC in legend).
pub fn plot_roc_with<P: AsRef<Path>>(path: P, curves: &[(&str, &[f64], &[f64])], opts: &RocPlotOptions) -> Result<()> {
    for (name, fpr, tpr) in curves {
        check_len("tpr", tpr.len(), fpr.len())?;
        if fpr.is_empty() {
            return Err(EvalError::InvalidArgument(format!("curve {name:?} is empty")));
        }
    }
    if opts.log_x && !(opts.min_fpr > 0.0 && opts.min_fpr < 1.0) {
        return Err(EvalError::InvalidArgument("min_fpr must be in (0, 1)".into()));
    }
    ensure_font();
    let root = BitMapBackend::new(path.as_ref(), (opts.width, opts.height)).into_drawing_area();
    root.fill(&WHITE).map_err(perr)?;

    let legend_name = |name: &str, fpr: &[f64], tpr: &[f64]| {
        if opts.show_auc {
            format!("{name} (AUC={:.4})", trapezoid(fpr, tpr))
        } else {
            name.to_string()
        }
    };

    macro_rules! draw_body {
        ($chart:ident, $clamp:expr, $diag:expr) => {{
            $chart
                .configure_mesh()
                .x_desc("False positive rate (human flagged)")
                .y_desc("True positive rate (machine flagged)")
                .label_style(("sans-serif", 16))
                .axis_desc_style(("sans-serif", 18))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(perr)?;
            $chart
                .draw_series(LineSeries::new($diag, ShapeStyle::from(&RGBColor(160, 160, 160)).stroke_width(1)))
                .map_err(perr)?;
            for (i, (name, fpr, tpr)) in curves.iter().enumerate() {
                let color = series_color(i);
                let pts: Vec<(f64, f64)> = fpr.iter().zip(tpr.iter()).map(|(&x, &y)| ($clamp(x), y)).collect();
                $chart
                    .draw_series(LineSeries::new(pts, ShapeStyle::from(&color).stroke_width(2)))
                    .map_err(perr)?
                    .label(legend_name(name, fpr, tpr))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], ShapeStyle::from(&color).stroke_width(3))
                    });
            }
            $chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .label_font(("sans-serif", 16))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(perr)?;
        }};
    }

    let mut builder = ChartBuilder::on(&root);
    builder.caption(&opts.title, ("sans-serif", 24)).margin(15).x_label_area_size(50).y_label_area_size(60);
    if opts.log_x {
        let lo = opts.min_fpr;
        let mut chart = builder.build_cartesian_2d((lo..1.0f64).log_scale(), 0.0..1.0f64).map_err(perr)?;
        let diag: Vec<(f64, f64)> = (0..=200)
            .map(|i| {
                let x = lo * (1.0 / lo).powf(i as f64 / 200.0);
                (x, x)
            })
            .collect();
        draw_body!(chart, |x: f64| x.max(lo), diag);
    } else {
        let mut chart = builder.build_cartesian_2d(0.0..1.0f64, 0.0..1.0f64).map_err(perr)?;
        draw_body!(chart, |x: f64| x, vec![(0.0, 0.0), (1.0, 1.0)]);
    }
    root.present().map_err(perr)?;
    Ok(())
}

/// Overlaid, density-normalised histograms of human and machine scores
/// (50 shared bins over the pooled finite range). NaN/inf scores are left out
/// and their count is shown in the legend. Writes a PNG to `path`.
pub fn plot_histograms<P: AsRef<Path>>(
    path: P,
    name: &str,
    human_scores: &[f64],
    machine_scores: &[f64],
) -> Result<()> {
    const BINS: usize = 50;
    let finite = |v: &[f64]| v.iter().copied().filter(|x| x.is_finite()).collect::<Vec<f64>>();
    let (h, m) = (finite(human_scores), finite(machine_scores));
    if h.is_empty() && m.is_empty() {
        return Err(EvalError::InvalidArgument("no finite scores to plot".into()));
    }
    let (mut lo, mut hi) =
        h.iter().chain(m.iter()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    if hi - lo <= 0.0 {
        lo -= 0.5;
        hi += 0.5;
    }
    let width = (hi - lo) / BINS as f64;
    let density = |v: &[f64]| {
        let mut c = vec![0f64; BINS];
        for &x in v {
            let b = (((x - lo) / width) as usize).min(BINS - 1);
            c[b] += 1.0;
        }
        let total = v.len().max(1) as f64 * width;
        c.iter_mut().for_each(|x| *x /= total);
        c
    };
    let (dh, dm) = (density(&h), density(&m));
    let ymax = dh.iter().chain(dm.iter()).fold(0f64, |a, &b| a.max(b)) * 1.08;
    let ymax = if ymax > 0.0 { ymax } else { 1.0 };

    ensure_font();
    let root = BitMapBackend::new(path.as_ref(), (900, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(perr)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("Score distribution: {name}"), ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(lo..hi, 0.0..ymax)
        .map_err(perr)?;
    chart
        .configure_mesh()
        .x_desc(format!("{name} score (higher = more machine-like)"))
        .y_desc("Density")
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(perr)?;

    let human_color = RGBColor(31, 119, 180);
    let machine_color = RGBColor(214, 39, 40);
    let dropped = |all: &[f64], kept: &[f64]| {
        let d = all.len() - kept.len();
        if d > 0 {
            format!(", {d} non-finite")
        } else {
            String::new()
        }
    };
    let series = [
        (format!("human (n={}{})", h.len(), dropped(human_scores, &h)), &dh, human_color),
        (format!("machine (n={}{})", m.len(), dropped(machine_scores, &m)), &dm, machine_color),
    ];
    for (label, dens, color) in series {
        chart
            .draw_series(dens.iter().enumerate().filter(|(_, &d)| d > 0.0).map(|(i, &d)| {
                let x0 = lo + i as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width, d)], color.mix(0.45).filled())
            }))
            .map_err(perr)?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], color.mix(0.6).filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(perr)?;
    root.present().map_err(perr)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::metrics::roc_curve;
    use super::super::testutil::Rng;
    use super::*;

    fn out_dir() -> std::path::PathBuf {
        let d = std::env::var_os("SVALBARD_PLOT_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join(format!("svalbard-eval-plots-{}", std::process::id())));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn is_png(p: &Path) -> bool {
        let b = std::fs::read(p).unwrap();
        b.len() > 1000 && b.starts_with(b"\x89PNG\r\n\x1a\n")
    }

    #[test]
    fn writes_roc_and_histogram_pngs() {
        let mut rng = Rng::new(3);
        let n = 2000;
        let labels: Vec<bool> = (0..n).map(|i| i % 2 == 0).collect();
        let s1: Vec<f64> = labels.iter().map(|&l| rng.normal() + if l { 1.5 } else { 0.0 }).collect();
        let s2: Vec<f64> = labels.iter().map(|&l| rng.normal() + if l { 0.6 } else { 0.0 }).collect();
        let r1 = roc_curve(&s1, &labels).unwrap();
        let r2 = roc_curve(&s2, &labels).unwrap();
        let dir = out_dir();
        let curves = [("strong", &r1.fpr[..], &r1.tpr[..]), ("weak", &r2.fpr[..], &r2.tpr[..])];
        let p = dir.join("roc.png");
        plot_roc(&p, &curves).unwrap();
        assert!(is_png(&p));
        let p = dir.join("roc_log.png");
        plot_roc_with(
            &p,
            &curves,
            &RocPlotOptions { log_x: true, min_fpr: 1e-3, title: "ROC (log FPR)".into(), ..Default::default() },
        )
        .unwrap();
        assert!(is_png(&p));
        let human: Vec<f64> = s1.iter().zip(&labels).filter(|(_, &l)| !l).map(|(&s, _)| s).collect();
        let mut machine: Vec<f64> = s1.iter().zip(&labels).filter(|(_, &l)| l).map(|(&s, _)| s).collect();
        machine.push(f64::NAN);
        let p = dir.join("hist.png");
        plot_histograms(&p, "strong", &human, &machine).unwrap();
        assert!(is_png(&p));
        // degenerate: single value
        let p = dir.join("hist_const.png");
        plot_histograms(&p, "const", &[1.0, 1.0], &[]).unwrap();
        assert!(is_png(&p));
        if std::env::var_os("SVALBARD_PLOT_DIR").is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn rejects_bad_input() {
        let p = std::env::temp_dir().join("svalbard-never-written.png");
        assert!(plot_roc(&p, &[("x", &[0.0, 1.0][..], &[0.0][..])]).is_err());
        assert!(plot_histograms(&p, "x", &[f64::NAN], &[]).is_err());
    }
}
