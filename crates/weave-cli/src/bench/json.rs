//! `weave bench --json`: the measurements as one JSON object,
//! `{"workloads": [...]}`, written through serde. Each workload is one
//! flat object: `name`, `unit`, `weave`, `baseline` (null when the
//! workload has none), `baseline_name`, `n`, `ratio` (absent without a
//! baseline), `better` (`"lower"` for a cost, `"higher"` for a rate),
//! `note` (absent when there is none), then the workload's extra figures,
//! each under its own key.
//!
//! Figures are rounded as the table prints them (0.1 for the figures,
//! 0.01 for the ratio, 0.001 for the extras). A figure that is not finite
//! (a failed division) is written as `null`, as serde_json writes NaN and
//! infinities: JSON has no spelling for them.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::common::Measurement;

/// The whole output.
#[derive(Serialize)]
struct Report<'a> {
    workloads: Vec<Row<'a>>,
}

/// One workload, in the order of its keys in the output.
#[derive(Serialize)]
struct Row<'a> {
    name: &'a str,
    unit: &'a str,
    weave: f64,
    baseline: Option<f64>,
    baseline_name: &'static str,
    n: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<f64>,
    better: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    #[serde(flatten)]
    extra: Extra<'a>,
}

/// The extra figures as keys of the row, in the workload's order.
struct Extra<'a>(&'a [(&'static str, f64)]);

impl Serialize for Extra<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, &round(*v, 1000.0))?;
        }
        map.end()
    }
}

/// `v` rounded to the nearest multiple of `1 / per`.
fn round(v: f64, per: f64) -> f64 {
    (v * per).round() / per
}

impl<'a> Row<'a> {
    fn of(m: &'a Measurement) -> Self {
        Row {
            name: m.name,
            unit: m.unit,
            weave: round(m.weave, 10.0),
            baseline: m.baseline.map(|b| round(b, 10.0)),
            baseline_name: "std::thread",
            n: m.n,
            ratio: m.ratio().map(|r| round(r, 100.0)),
            better: if m.is_rate() { "higher" } else { "lower" },
            note: m.note.as_deref(),
            extra: Extra(&m.extra),
        }
    }
}

/// The measurements as the JSON object `bench --json` prints.
pub(super) fn to_json(results: &[Measurement]) -> String {
    let report = Report {
        workloads: results.iter().map(Row::of).collect(),
    };
    serde_json::to_string(&report).expect("a bench report serialises: its keys are strings")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn measurement(unit: &'static str, baseline: Option<f64>) -> Measurement {
        Measurement {
            name: "w",
            unit,
            weave: 12.345,
            baseline,
            n: 10,
            note: Some("a \"quoted\" note\nover two lines".into()),
            extra: vec![("p99_ns", 1.23456), ("cpu_s", 0.5)],
        }
    }

    #[test]
    fn a_row_parses_back_with_every_field() {
        let text = to_json(&[measurement("ns", Some(100.0))]);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            json!({"workloads": [{
                "name": "w", "unit": "ns", "weave": 12.3, "baseline": 100.0,
                "baseline_name": "std::thread", "n": 10, "ratio": 8.1,
                "better": "lower", "note": "a \"quoted\" note\nover two lines",
                "p99_ns": 1.235, "cpu_s": 0.5
            }]})
        );
    }

    #[test]
    fn extras_follow_the_fixed_keys_in_the_workloads_order() {
        let text = to_json(&[measurement("ns", Some(100.0))]);
        let at = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
        assert!(at("name") < at("better"), "{text}");
        assert!(at("better") < at("p99_ns"), "{text}");
        assert!(at("p99_ns") < at("cpu_s"), "{text}");
    }

    #[test]
    fn a_rate_is_better_higher_and_no_baseline_means_null_and_no_ratio() {
        let v: Value = serde_json::from_str(&to_json(&[measurement("msg/s", None)])).unwrap();
        let row = &v["workloads"][0];
        assert_eq!(row["better"], "higher");
        assert_eq!(row["baseline"], Value::Null);
        assert!(row.get("ratio").is_none(), "{row}");
    }

    #[test]
    fn a_figure_that_is_not_finite_is_null() {
        let mut m = measurement("ns", Some(f64::NAN));
        m.weave = f64::INFINITY;
        let text = to_json(&[m]);
        let v: Value = serde_json::from_str(&text).expect("still JSON");
        assert_eq!(v["workloads"][0]["weave"], Value::Null, "{text}");
        assert_eq!(v["workloads"][0]["baseline"], Value::Null, "{text}");
    }
}
