//! Dependency filters as Argo Events v1.9 applies them
//! (`pkg/sensors/dependencies/filter.go` `filterEvent`): `exprs`, `data`,
//! `context`, `time` and `script`, combined with `filtersLogicalOperator`.
//! Each filter is shown with why it passed; the verdict follows the Go code,
//! including which errors discard the event.

use super::event::{Context, Event};
use super::expr::{self, V};
use super::gotemplate::{self, TemplateError};
use super::gotime;
use super::{FilterResult, gjson_go, goregex};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Whether one dependency accepts one event, and each filter's result.
pub(crate) fn dependency(dep: &Json, event: &Event) -> (bool, Vec<FilterResult>) {
    let mut results = Vec::new();
    let filters = &dep["filters"];
    let data = event.data.as_str();
    let context = event.context.for_dependency(
        dep["eventSourceName"].as_str().unwrap_or_default(),
        dep["eventName"].as_str().unwrap_or_default(),
    );
    if dep.get("transform").is_some_and(|t| !t.is_null()) {
        results.push(FilterResult {
            path: "transform".into(),
            result: true,
            why: "unsupported: the transform (jq or Lua) is not applied; the filters ran on the untransformed event".into(),
        });
    }
    if !filters.is_object() {
        return (true, results);
    }
    let present = |key: &str| filters.get(key).is_some_and(|v| !v.is_null());
    let or = dep["filtersLogicalOperator"].as_str() == Some("or");

    let exprs = filters.get("exprs").and_then(Json::as_array);
    let (expr_pass, expr_err) = match exprs {
        Some(list) => expr_filters(
            list,
            filters["exprLogicalOperator"].as_str() == Some("or"),
            data,
            &mut results,
        ),
        None => (true, false),
    };
    let data_filters = filters
        .get("data")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let (data_pass, data_err) = data_filters_result(
        data_filters,
        filters["dataLogicalOperator"].as_str() == Some("or"),
        data,
        &mut results,
    );
    let ctx_pass = if present("context") {
        context_filter(&filters["context"], &context, &mut results)
    } else {
        true
    };
    let (time_pass, time_err) = if present("time") {
        time_filter(&filters["time"], &context, &mut results)
    } else {
        (true, false)
    };
    let script = filters["script"].as_str().unwrap_or_default();
    if !script.is_empty() {
        results.push(FilterResult {
            path: "script".into(),
            result: false,
            why: "unsupported: sensor-test does not run Lua script filters; counted as not passing"
                .into(),
        });
    }
    let script_pass = script.is_empty();
    let matched = if or {
        (present("exprs") && expr_pass)
            || (present("data") && data_pass)
            || (present("context") && ctx_pass)
            || (present("time") && time_pass)
            || (!script.is_empty() && script_pass)
    } else {
        !expr_err
            && !data_err
            && !time_err
            && expr_pass
            && data_pass
            && ctx_pass
            && time_pass
            && script_pass
    };
    (matched, results)
}

/// `filterExpr`: (passed, error).
fn expr_filters(
    exprs: &[Json],
    or: bool,
    data: &str,
    results: &mut Vec<FilterResult>,
) -> (bool, bool) {
    if !gjson::valid(data) {
        results.push(FilterResult {
            path: "exprs".into(),
            result: false,
            why: "error: event data not valid JSON".into(),
        });
        return (false, true);
    }
    // (true, false, error) per filter; `None` when skipped.
    let mut outcomes: Vec<Option<Result<bool, ()>>> = Vec::new();
    for (i, filter) in exprs.iter().enumerate() {
        let text = filter["expr"].as_str().unwrap_or_default();
        let path = format!("exprs[{i}]");
        let mut params: BTreeMap<String, V> = BTreeMap::new();
        let mut missing = None;
        for field in filter["fields"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let field_path = field["path"].as_str().unwrap_or_default();
            match gjson_go::get(data, field_path) {
                Some(found) => {
                    let value = serde_json::from_str(&found.raw)
                        .map_or_else(|_| V::Str(found.string.clone()), |j| V::from_json(&j));
                    params.insert(
                        field["name"].as_str().unwrap_or_default().to_string(),
                        value,
                    );
                }
                None => {
                    missing = Some(field_path.to_string());
                    break;
                }
            }
        }
        let shown = params
            .iter()
            .map(|(k, v)| format!("{k} = {}", shown_value(v)))
            .collect::<Vec<_>>()
            .join(", ");
        let (outcome, why) = if let Some(field_path) = missing {
            (
                Some(Err(())),
                format!("error: path '{field_path}' does not exist"),
            )
        } else if params.is_empty() {
            (None, format!("{text:?} has no fields; skipped"))
        } else {
            match expr::parse(text).and_then(|e| e.evaluate(&params)) {
                Ok(V::Bool(true)) => (Some(Ok(true)), format!("{text:?} is true with {shown}")),
                Ok(v) => (
                    Some(Ok(false)),
                    format!("{text:?} is {} with {shown}", v.go_string()),
                ),
                // Where govaluate panics, the sensor crashes: no verdict.
                Err(e) if e.starts_with("runtime error") => (
                    Some(Err(())),
                    format!(
                        "unsupported: govaluate panics on {text:?} with {shown} ({e}), which stops the Sensor in Argo Events; counted as not passing"
                    ),
                ),
                Err(e) => (
                    Some(Err(())),
                    format!("error evaluating {text:?} with {shown}: {e}"),
                ),
            }
        };
        results.push(FilterResult {
            path,
            result: matches!(outcome, Some(Ok(true)) | None),
            why,
        });
        outcomes.push(outcome);
    }
    if or {
        // Returns true at the first true; errors only matter when none is.
        let pass = outcomes.iter().any(|o| matches!(o, Some(Ok(true))));
        (
            pass,
            !pass && outcomes.iter().any(|o| matches!(o, Some(Err(())))),
        )
    } else {
        // Stops at the first false or error.
        match outcomes
            .iter()
            .find(|o| matches!(o, Some(Ok(false) | Err(()))))
        {
            Some(Some(Err(()))) => (false, true),
            Some(_) => (false, false),
            None => (true, false),
        }
    }
}

fn shown_value(v: &V) -> String {
    match v {
        V::Str(s) => format!("{s:?}"),
        other => other.go_string(),
    }
}

/// `filterData`: (passed, error).
fn data_filters_result(
    filters: &[Json],
    or: bool,
    data: &str,
    results: &mut Vec<FilterResult>,
) -> (bool, bool) {
    if filters.is_empty() {
        return (true, false);
    }
    if !gjson::valid(data) {
        results.push(FilterResult {
            path: "data".into(),
            result: false,
            why: "error: event data not valid JSON".into(),
        });
        return (false, true);
    }
    let mut outcomes = Vec::new();
    for f in filters {
        let (outcome, why) = data_filter(f, data);
        results.push(FilterResult {
            path: f["path"].as_str().unwrap_or_default().to_string(),
            result: outcome == Ok(true),
            why: match &outcome {
                Err(e) if e.starts_with("unsupported:") => format!("{e}; counted as not passing"),
                Err(e) => format!("error: {e}; the event is discarded"),
                Ok(_) => why,
            },
        });
        outcomes.push(outcome);
    }
    if or {
        let pass = outcomes.contains(&Ok(true));
        (pass, !pass && outcomes.iter().any(Result::is_err))
    } else {
        match outcomes.iter().find(|o| **o != Ok(true)) {
            Some(Err(_)) => (false, true),
            Some(_) => (false, false),
            None => (true, false),
        }
    }
}

/// One data filter: Ok(passed) or Err(why Argo Events reports an error),
/// and a sentence on why.
fn data_filter(f: &Json, data: &str) -> (Result<bool, String>, String) {
    let path = f["path"].as_str().unwrap_or_default();
    let Some(mut found) = gjson_go::get(data, path) else {
        return (Err(format!("path '{path}' does not exist")), String::new());
    };
    let values: Vec<String> = f["value"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|v| match v {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    if values.is_empty() {
        return (Err("no values specified".into()), String::new());
    }
    if let Some(template) = f["template"].as_str().filter(|t| !t.is_empty()) {
        match gotemplate::render(template, &Json::String(found.string.clone())) {
            Ok(out) if out.is_empty() || out == "<no value>" => {
                return (
                    Err(format!(
                        "template '{template}' evaluated to empty string or no value"
                    )),
                    String::new(),
                );
            }
            Ok(out) => {
                found = gjson_go::string_result(out);
            }
            Err(e @ TemplateError::Unsupported(_)) => return (Err(e.to_string()), String::new()),
            Err(TemplateError::Failed(e)) => return (Err(e), String::new()),
        }
    }
    let comparator = f["comparator"].as_str().unwrap_or_default();
    let shown = if found.type_name == "String" {
        format!("{:?}", found.string)
    } else {
        found.string.clone()
    };
    match f["type"].as_str().unwrap_or_default() {
        "bool" => {
            for value in &values {
                match gjson_go::parse_go_bool(value) {
                    None => {
                        return (
                            Err(format!(
                                "strconv.ParseBool: parsing {value:?}: invalid syntax"
                            )),
                            String::new(),
                        );
                    }
                    Some(v) if v == found.boolean => {
                        return (
                            Ok(true),
                            format!("{shown} (as bool {}) equals {value}", found.boolean),
                        );
                    }
                    Some(_) => {}
                }
            }
            (
                Ok(false),
                format!(
                    "{shown} (as bool {}) equals none of {}",
                    found.boolean,
                    values.join(", ")
                ),
            )
        }
        "number" => {
            let op = if comparator.is_empty() {
                "="
            } else {
                comparator
            };
            for value in &values {
                let Some(wanted) = gjson_go::parse_go_float(value) else {
                    return (
                        Err(format!(
                            "strconv.ParseFloat: parsing {value:?}: invalid syntax"
                        )),
                        String::new(),
                    );
                };
                let got = found.float;
                #[allow(clippy::float_cmp)] // Argo Events compares float64s exactly
                let pass = match op {
                    ">=" => got >= wanted,
                    ">" => got > wanted,
                    "<" => got < wanted,
                    "<=" => got <= wanted,
                    "!=" => got != wanted,
                    "=" => got == wanted,
                    _ => false,
                };
                if pass {
                    return (Ok(true), format!("{shown} {op} {value}"));
                }
            }
            (
                Ok(false),
                format!("{shown} is not {op} any of {}", values.join(", ")),
            )
        }
        "string" => {
            let negate = comparator == "!=";
            for value in &values {
                let re = match goregex::compile(value) {
                    Ok(re) => re,
                    Err(e) => return (Err(e), String::new()),
                };
                let matches = re.is_match(&found.string);
                let pass = match comparator {
                    "" | "=" => matches,
                    "!=" => !matches,
                    _ => false,
                };
                if pass {
                    let verb = if negate { "does not match" } else { "matches" };
                    let anchored = value.starts_with('^') && value.ends_with('$');
                    let note = if !negate && !anchored && &found.string != value {
                        " (unanchored: a substring match)"
                    } else {
                        ""
                    };
                    return (Ok(true), format!("{shown} {verb} {value:?}{note}"));
                }
            }
            let verb = if negate {
                "matches one of"
            } else {
                "matches none of"
            };
            (
                Ok(false),
                format!("{shown} {verb} {}", quoted_list(&values)),
            )
        }
        other => (
            Err(format!("unsupported JSON type '{other}'")),
            String::new(),
        ),
    }
}

fn quoted_list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `filterContext`: each non-empty expected field must equal the event's.
fn context_filter(expected: &Json, ctx: &Context, results: &mut Vec<FilterResult>) -> bool {
    let mut pass = true;
    for (key, actual) in [
        ("type", ctx.kind.as_deref()),
        ("subject", ctx.subject.as_deref()),
        ("source", ctx.source.as_deref()),
        ("datacontenttype", Some(ctx.data_content_type.as_str())),
    ] {
        let want = expected[key].as_str().unwrap_or_default();
        if want.is_empty() {
            continue;
        }
        let path = format!("context.{key}");
        let Some(actual) = actual else {
            results.push(FilterResult {
                path,
                result: false,
                why: format!("unsupported: the event's context.{key} is not known (give the event as {{\"context\": {{\"{key}\": …}}, \"data\": …}}); counted as not passing"),
            });
            pass = false;
            continue;
        };
        let ok = want == actual;
        pass &= ok;
        results.push(FilterResult {
            path,
            result: ok,
            why: format!(
                "{actual:?} {} {want:?}",
                if ok { "equals" } else { "does not equal" }
            ),
        });
    }
    pass
}

/// `filterTime`: (passed, error). Start is inclusive, stop exclusive; a
/// stop before the start wraps past midnight.
fn time_filter(filter: &Json, ctx: &Context, results: &mut Vec<FilterResult>) -> (bool, bool) {
    let start = filter["start"].as_str().unwrap_or_default();
    let stop = filter["stop"].as_str().unwrap_or_default();
    let zone = filter["timezone"].as_str().unwrap_or_default();
    let event_time = ctx.time;
    let when = if ctx.time_given {
        format!("event time {}", gotime::format_rfc3339(event_time))
    } else {
        format!(
            "event time {} (now: the event file gives no context.time)",
            gotime::format_rfc3339(event_time)
        )
    };
    // ParseTimeInTimezone (pkg/shared/util/time.go): the event's date in
    // the zone, the times as wall clock there; ParseTime without a zone.
    let loc = match gotime::Zone::load(zone) {
        Ok(loc) => loc,
        Err(_) if !gotime::Zone::database_present() => {
            results.push(FilterResult {
                path: "time".into(),
                result: false,
                why: format!("unsupported: this machine has no zoneinfo database for timezone {zone:?}; counted as not passing"),
            });
            return (false, false);
        }
        Err(e) => {
            results.push(FilterResult {
                path: "time".into(),
                result: false,
                why: format!(
                    "error: time filter error (invalid timezone '{zone}': {e}); the event is discarded"
                ),
            });
            return (false, true);
        }
    };
    let local = event_time.secs + loc.offset_at(event_time.secs);
    let (y, m, d) = gotime::civil_from_days(local.div_euclid(86_400));
    let parse = |t: &str| {
        gotime::parse("2006-01-02 15:04:05", &format!("{y:04}-{m:02}-{d:02} {t}")).map(|wall| {
            gotime::Instant {
                secs: loc.from_wall(wall.secs),
                nanos: wall.nanos,
            }
        })
    };
    let (start_t, stop_t) = match (parse(start), parse(stop)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            results.push(FilterResult {
                path: "time".into(),
                result: false,
                why: format!("error: time filter error ({e}); the event is discarded"),
            });
            return (false, true);
        }
    };
    let pass = if start_t < stop_t {
        event_time >= start_t && event_time < stop_t
    } else {
        event_time >= start_t || event_time < stop_t
    };
    results.push(FilterResult {
        path: "time".into(),
        result: pass,
        why: format!(
            "{when} is {} [{start}, {stop}) {}",
            if pass { "in" } else { "not in" },
            if zone.is_empty() { "UTC" } else { zone }
        ),
    });
    (pass, false)
}
