//! Consent across people: the console's overview and the export. Both read the listing of
//! `consent:` in Workers KV, where each record's metadata says its state and its recent changes
//! (`consent::ListedConsent`): counting ten thousand people is ten listings, not ten thousand
//! reads. The counts are taken from each person's own record, never kept as counters, so a
//! burst of opt-outs in one second cannot lose one.

use crate::http::error::ApiError;
use crate::http::response::Response;
use crate::http::Request;
use crate::store::consent::{self, ConsentChange, ConsentRecord, ListedConsent};
use crate::store::keys::CONSENT_PREFIX;
use crate::store::kv::{Kv, ListedKey};
use crate::store::RecordMeta;
use crate::time::UnixTime;
use serde::Serialize;
use serde_json::json;

/// The days the overview charts, today included.
pub const OVERVIEW_DAYS: u64 = 30;
/// The latest consent changes the overview shows.
pub const LATEST_CHANGES: usize = 20;
/// The most listings one overview reads (1,000 records each): 40,000 records in about 40
/// subrequests, inside a Worker's limit. Beyond, the answer says `complete: false`.
pub const MAX_LISTINGS: usize = 40;
/// Workers KV reads at most 100 keys in one bulk read.
const BULK_READ: usize = 100;

const DAY: u64 = crate::policy::retention::DAY;

/// A listed record's metadata; `None` for records written before the listing carried it.
fn listed(key: &ListedKey) -> Option<(u64, ListedConsent)> {
    let meta: RecordMeta = crate::serde_ext::from_str(key.metadata.as_ref()?.as_str()).ok()?;
    Some((meta.t, meta.c?))
}

/// Records, in bulk reads of at most 100 keys; unreadable ones are skipped and counted.
async fn read_records<K: Kv>(
    kv: &K,
    keys: &[String],
) -> Result<(Vec<(String, ConsentRecord)>, usize), ApiError> {
    let mut found = Vec::new();
    let mut unreadable = 0;
    for chunk in keys.chunks(BULK_READ) {
        for (key, value) in chunk.iter().zip(kv.get_many(chunk).await?) {
            match value.map(|v| consent::parse(Some(&v))) {
                Some(Ok(record)) => found.push((key.clone(), record)),
                Some(Err(_)) => unreadable += 1,
                None => {}
            }
        }
    }
    Ok((found, unreadable))
}

#[derive(Default, Serialize)]
struct Counts {
    opted_out_all: u64,
    opted_out_marketing: u64,
    opted_in: u64,
    unknown: u64,
}

#[derive(Default, Clone, Serialize)]
struct Day {
    date: String,
    opted_out: u64,
    opted_out_marketing: u64,
    opted_in: u64,
}

/// Everything the overview adds up, one record at a time.
struct Tally {
    counts: Counts,
    first_day: u64,
    days: Vec<Day>,
    /// Each person's newest change and their record's key, for the latest changes.
    newest: Vec<(u64, String)>,
}

impl Tally {
    fn new(now: UnixTime) -> Tally {
        let today = now.0 / DAY;
        let first_day = today.saturating_sub(OVERVIEW_DAYS - 1);
        let days = (first_day..=today)
            .map(|d| Day {
                date: UnixTime(d * DAY).date(),
                ..Day::default()
            })
            .collect();
        Tally {
            counts: Counts::default(),
            first_day,
            days,
            newest: Vec::new(),
        }
    }

    fn add(&mut self, key: &str, updated: u64, listed: &ListedConsent) {
        let c = &mut self.counts;
        match listed.c.as_str() {
            "out" => c.opted_out_all += 1,
            "marketing" => c.opted_out_marketing += 1,
            "in" => c.opted_in += 1,
            _ => c.unknown += 1,
        }
        for (at, word) in &listed.r {
            let Some(day) = (at / DAY)
                .checked_sub(self.first_day)
                .and_then(|i| self.days.get_mut(i as usize))
            else {
                continue;
            };
            match word.as_str() {
                "out" => day.opted_out += 1,
                "marketing" => day.opted_out_marketing += 1,
                "in" => day.opted_in += 1,
                _ => {}
            }
        }
        self.newest.push((updated, key.to_string()));
    }
}

/// One change of the latest, as the console lists it: the person's ids masked.
#[derive(Serialize)]
struct LatestChange<'a> {
    #[serde(flatten)]
    change: &'a ConsentChange,
    date: String,
    ids: Vec<String>,
}

/// `GET /v1/consent/overview`: people by consent state, changes per day over 30 days, and the
/// latest changes with their source and evidence.
pub async fn overview<K: Kv>(kv: &K, now: UnixTime) -> Result<Response, ApiError> {
    let mut tally = Tally::new(now);
    let mut unlisted = Vec::new();
    let mut cursor = None;
    let mut complete = true;
    for listing in 1..=MAX_LISTINGS {
        let page = kv.list(CONSENT_PREFIX, cursor).await?;
        for key in &page.keys {
            match listed(key) {
                Some((_, l)) if l.alias => {}
                Some((updated, l)) => tally.add(&key.name, updated, &l),
                None => unlisted.push(key.name.clone()),
            }
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
        complete = listing < MAX_LISTINGS;
    }
    let (older, mut unreadable) = read_records(kv, &unlisted).await?;
    for (key, record) in &older {
        let updated = record.updated_at.map_or(0, |t| t.0);
        tally.add(key, updated, &ListedConsent::of(record));
    }
    tally.newest.sort_by(|a, b| b.cmp(a));
    let wanted: Vec<String> = tally
        .newest
        .iter()
        .take(LATEST_CHANGES)
        .map(|(_, k)| k.clone())
        .collect();
    let (records, more_unreadable) = read_records(kv, &wanted).await?;
    unreadable += more_unreadable;
    let mut latest: Vec<LatestChange> = records
        .iter()
        .flat_map(|(_, record)| {
            let ids: Vec<String> = record.ids.iter().map(|id| id.masked()).collect();
            record.history.iter().map(move |change| LatestChange {
                change,
                date: change.at.iso(),
                ids: ids.clone(),
            })
        })
        .collect();
    latest.sort_by_key(|c| std::cmp::Reverse(c.change.at));
    latest.truncate(LATEST_CHANGES);
    Ok(Response::json(
        200,
        json!({
            "people": tally.counts,
            "days": tally.days,
            "latest": latest,
            "unreadable": unreadable,
            "complete": complete,
        }),
    ))
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Ndjson,
    Csv,
}

/// The CSV's columns: one row per change of the ledger (a record without changes has one row
/// with the change columns empty).
const CSV_HEADER: &str =
    "ids,status,scope,updated_at,change_at,change_status,change_scope,source,keyword,message_id,evidence,applied\n";

/// `GET /v1/consent/export?format=ndjson|csv&cursor=`: every person's consent record with its
/// ledger and evidence (never a message's text), a listing of up to 1,000 records a page; the
/// next page's cursor is in `X-Next-Cursor`, absent on the last. The CSV's header row comes
/// with the first page only, so pages concatenate into one file.
pub async fn export<K: Kv>(kv: &K, req: &Request) -> Result<Response, ApiError> {
    let format = match req.query_param("format") {
        None | Some("ndjson") => Format::Ndjson,
        Some("csv") => Format::Csv,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_format",
                "format is ndjson or csv",
            ))
        }
    };
    let cursor = req.query_param("cursor").filter(|c| !c.is_empty());
    let page = kv
        .list(CONSENT_PREFIX, cursor.map(str::to_string))
        .await
        .map_err(|_| {
            ApiError::bad_request("invalid_cursor", "cursor is not one this API returned")
        })?;
    let homes: Vec<String> = page
        .keys
        .iter()
        .filter(|k| !listed(k).is_some_and(|(_, l)| l.alias))
        .map(|k| k.name.clone())
        .collect();
    let (records, unreadable) = read_records(kv, &homes).await?;
    let mut body = String::new();
    if format == Format::Csv && cursor.is_none() {
        body.push_str(CSV_HEADER);
    }
    for (_, record) in &records {
        match format {
            Format::Ndjson => {
                body.push_str(&crate::serde_ext::to_string(record));
                body.push('\n');
            }
            Format::Csv => csv_rows(&mut body, record),
        }
    }
    let (content_type, name) = match format {
        Format::Ndjson => ("application/x-ndjson", "consent.ndjson"),
        Format::Csv => ("text/csv; charset=utf-8", "consent.csv"),
    };
    let mut answer = Response::body(200, content_type, body)
        .with_header(
            "content-disposition",
            format!("attachment; filename=\"{name}\""),
        )
        .with_header("x-records", records.len().to_string());
    if unreadable > 0 {
        answer = answer
            .with_header("x-unreadable-records", unreadable.to_string())
            .with_log(format!("consent export: {unreadable} unreadable records"));
    }
    if let Some(next) = page.cursor {
        answer = answer.with_header("x-next-cursor", next);
    }
    Ok(answer)
}

fn word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Null) | Err(_) => String::new(),
        Ok(other) => other.to_string(),
    }
}

fn csv_rows(out: &mut String, record: &ConsentRecord) {
    let ids: Vec<&str> = record.ids.iter().map(|id| id.as_str()).collect();
    let head = [
        ids.join(" "),
        word(&record.status),
        word(&record.scope),
        record.updated_at.map(UnixTime::iso).unwrap_or_default(),
    ];
    let changes: Vec<[String; 8]> = record
        .history
        .iter()
        .map(|c| {
            [
                c.at.iso(),
                word(&c.status),
                word(&c.scope),
                word(&c.source),
                c.keyword.clone().unwrap_or_default(),
                c.message_id
                    .as_ref()
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_default(),
                c.evidence.clone().unwrap_or_default(),
                c.applied.to_string(),
            ]
        })
        .collect();
    let empty: [String; 8] = Default::default();
    let rows: Vec<&[String; 8]> = if changes.is_empty() {
        vec![&empty]
    } else {
        changes.iter().collect()
    };
    for change in rows {
        let cells: Vec<String> = head.iter().chain(change.iter()).map(|c| cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
}

/// One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break. A cell that a
/// spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) gets a leading `'`: evidence is
/// free text an operator typed, and an export is opened in spreadsheets.
fn cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+15551234567"), "'+15551234567");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
    }
}
