//! One-way sync of a selection of objects from one location to another:
//! what `seed-bucket` does, testable without the task.
//!
//! The source and destination listings are both in name order, so they are
//! merged as two streams ([`merge`]): each selected source object meets the
//! destination object of the same key, if any, and memory stays flat however
//! many objects there are. Listing is paged and pipelined with copying.
//! [`decide`] then copies, skips (same size and checksum) or leaves alone a
//! destination object that is not a copy of its source (someone changed
//! it), unless told to overwrite it. Nothing at the destination is ever
//! deleted. Copies run `concurrency` at a time; `gs://` to `gs://` is a
//! server-side rewrite guarded by the generation the destination had when
//! it was looked at, so a concurrent writer is never overwritten blindly.

use crate::{CopyOptions, Entry, ObjectInfo, ObjectStream, Storage, StorageError};
use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use sandbox_core::params::BucketUrl;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Which source objects a sync takes, by name, age or anything else an
/// [`ObjectInfo`] says (the limits are [`SyncOptions`]'). Also asked about
/// files left out for their name, so only those the selection would have
/// taken are reported.
pub type Select = Arc<dyn Fn(&ObjectInfo) -> bool + Send + Sync>;

/// How a sync runs.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Copies in flight at once (at least 1).
    pub concurrency: usize,
    /// Replace a destination object that differs from its source (by
    /// default it is left alone and counted as a conflict).
    pub overwrite_changed: bool,
    /// Decide everything, copy nothing.
    pub dry_run: bool,
    /// Take at most this many objects (the first selected in name order).
    pub max_objects: Option<u64>,
    /// Take objects in name order until the next would pass this many bytes.
    pub max_bytes: Option<u64>,
    /// How many names [`SyncReport::first_copied`] keeps.
    pub names_kept: usize,
    /// How many names [`SyncReport::not_utf8`] keeps.
    pub not_utf8_kept: usize,
    /// How often progress is logged.
    pub progress_every: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            concurrency: 32,
            overwrite_changed: false,
            dry_run: false,
            max_objects: None,
            max_bytes: None,
            names_kept: 20,
            not_utf8_kept: 100,
            progress_every: Duration::from_secs(5),
        }
    }
}

/// Told as a sync goes, e.g. to keep a step's `N/M` progress current.
pub trait Observer: Send + Sync {
    /// `total` objects are selected so far (it grows while listing).
    fn selected(&self, total: u64) {
        let _ = total;
    }
    /// One more selected object was copied, skipped or left alone.
    fn decided(&self, key: &str, decision: Decision) {
        let _ = (key, decision);
    }
}

/// An observer that is told nothing.
impl Observer for () {}

/// What became of one selected object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Copied (or, in a dry run, would be), with its size.
    Copy(u64),
    /// The destination already holds the same bytes.
    Skip,
    /// The destination holds something else under this name; left alone.
    Conflict,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Objects selected (with the limits applied).
    pub selected: u64,
    /// Their bytes.
    pub selected_bytes: u64,
    /// Objects copied (a dry run: to copy).
    pub copied: u64,
    /// Their bytes.
    pub bytes_copied: u64,
    /// Objects already at the destination with the same content.
    pub skipped: u64,
    /// Objects at the destination that differ and were left alone.
    pub conflicts: u64,
    /// The first names copied, at most `names_kept` (in name order on a
    /// dry run, in completion order otherwise).
    pub first_copied: Vec<String>,
    /// Source files the selection would take but that cannot be objects
    /// because their path is not UTF-8 (`file://` only).
    pub not_utf8_count: u64,
    /// Their keys, at most `not_utf8_kept`, bytes that are not UTF-8 as `\xNN`.
    pub not_utf8: Vec<String>,
    /// How long it took.
    pub elapsed: Duration,
}

/// A selected source object and the destination object of the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The source object.
    pub source: ObjectInfo,
    /// The destination object of the same key, if any.
    pub existing: Option<ObjectInfo>,
}

/// Decide what to do with a source object given what the destination
/// holds under its key: copy it when the destination has nothing (only if
/// it still has nothing: generation 0), skip it when both hold the same
/// bytes ([`ObjectInfo::same_content`]), otherwise leave the destination
/// alone, or, with `overwrite_changed`, replace exactly the generation seen.
/// `None` options mean: do not copy.
pub fn decide(
    source: &ObjectInfo,
    existing: Option<&ObjectInfo>,
    overwrite_changed: bool,
) -> (Decision, Option<CopyOptions>) {
    match existing {
        None => (
            Decision::Copy(source.size),
            Some(CopyOptions {
                if_generation_match: Some(0),
            }),
        ),
        Some(existing) if source.same_content(existing) => (Decision::Skip, None),
        Some(_) if !overwrite_changed => (Decision::Conflict, None),
        Some(existing) => (
            Decision::Copy(source.size),
            Some(CopyOptions {
                if_generation_match: existing.generation,
            }),
        ),
    }
}

/// Merge two listings in name order: each source object with the
/// destination object of the same key. Destination objects with no source
/// are passed over (never touched). Both listings must be in strictly
/// increasing key order, as GCS and `file://` list; one that is not is an
/// error rather than a copy of an object that should have been skipped.
pub fn merge(
    source: ObjectStream,
    dest: ObjectStream,
) -> impl Stream<Item = Result<Pair, StorageError>> + Send + 'static {
    let state = Merge {
        source,
        dest,
        dest_head: None,
        dest_done: false,
        last_source: None,
        last_dest: None,
        failed: false,
    };
    stream::unfold(state, |mut state| async move {
        if state.failed {
            return None;
        }
        let item = state.next().await?;
        state.failed = item.is_err();
        Some((item, state))
    })
}

struct Merge {
    source: ObjectStream,
    dest: ObjectStream,
    /// The destination object not yet passed over.
    dest_head: Option<ObjectInfo>,
    dest_done: bool,
    last_source: Option<String>,
    last_dest: Option<String>,
    /// An error ends the merge.
    failed: bool,
}

fn in_order(last: &mut Option<String>, key: &str, which: &str) -> Result<(), StorageError> {
    if last.as_deref().is_some_and(|l| l >= key) {
        return Err(StorageError::Protocol {
            operation: format!("list the {which}"),
            message: format!("listing is not in name order at {key:?}"),
        });
    }
    *last = Some(key.to_string());
    Ok(())
}

impl Merge {
    async fn next(&mut self) -> Option<Result<Pair, StorageError>> {
        let source = match self.source.next().await? {
            Ok(s) => s,
            Err(e) => return Some(Err(e)),
        };
        if let Err(e) = in_order(&mut self.last_source, &source.key, "source") {
            return Some(Err(e));
        }
        while !self.dest_done {
            match &self.dest_head {
                Some(d) if d.key < source.key => self.dest_head = None,
                Some(_) => break,
                None => match self.dest.next().await {
                    None => self.dest_done = true,
                    Some(Err(e)) => return Some(Err(e)),
                    Some(Ok(d)) => {
                        if let Err(e) = in_order(&mut self.last_dest, &d.key, "destination") {
                            return Some(Err(e));
                        }
                        self.dest_head = Some(d);
                    }
                },
            }
        }
        let existing = match &self.dest_head {
            Some(d) if d.key == source.key => self.dest_head.take(),
            _ => None,
        };
        Some(Ok(Pair { source, existing }))
    }
}

/// Counters shared with the progress ticker.
#[derive(Debug, Default)]
struct Counts {
    selected: AtomicU64,
    selected_bytes: AtomicU64,
    copied: AtomicU64,
    skipped: AtomicU64,
    conflicts: AtomicU64,
    bytes_copied: AtomicU64,
    listing_done: AtomicBool,
}

fn get(n: &AtomicU64) -> u64 {
    n.load(Ordering::Relaxed)
}

/// Files left out for their name, as the source listing meets them.
#[derive(Debug, Default)]
struct NotUtf8 {
    count: u64,
    names: Vec<String>,
}

/// Copy the objects `select` takes from `from` to `to`, as the module
/// describes. Progress is logged every `progress_every` and told to
/// `observer`. Errors of listing or copying end the sync; what was copied
/// stays, and a rerun skips it.
pub async fn sync(
    storage: &Storage,
    from: &BucketUrl,
    to: &BucketUrl,
    select: Select,
    options: &SyncOptions,
    observer: Arc<dyn Observer>,
) -> Result<SyncReport, StorageError> {
    let counts = Arc::new(Counts::default());
    let started = Instant::now();
    let ticker = tokio::spawn(log_progress(
        Arc::clone(&counts),
        started,
        options.progress_every,
    ));
    let not_utf8 = Arc::new(std::sync::Mutex::new(NotUtf8::default()));
    let result = copy_all(
        storage, from, to, select, options, &observer, &counts, &not_utf8,
    )
    .await;
    ticker.abort();
    let first_copied = result?;
    let not_utf8 = std::mem::take(&mut *not_utf8.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(SyncReport {
        selected: get(&counts.selected),
        selected_bytes: get(&counts.selected_bytes),
        copied: get(&counts.copied),
        bytes_copied: get(&counts.bytes_copied),
        skipped: get(&counts.skipped),
        conflicts: get(&counts.conflicts),
        first_copied,
        not_utf8_count: not_utf8.count,
        not_utf8: not_utf8.names,
        elapsed: started.elapsed(),
    })
}

/// Log counts and rates every `every` until aborted.
async fn log_progress(counts: Arc<Counts>, started: Instant, every: Duration) {
    let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let done = get(&counts.copied) + get(&counts.skipped) + get(&counts.conflicts);
        let secs = started.elapsed().as_secs_f64().max(0.001);
        let total = get(&counts.selected);
        let total = if counts.listing_done.load(Ordering::Relaxed) {
            total.to_string()
        } else {
            format!("{total}+")
        };
        tracing::info!(
            "progress: {done}/{total} objects ({} copied, {} skipped), {:.1} MB copied, {:.0} objects/s, {:.1} MB/s",
            get(&counts.copied),
            get(&counts.skipped),
            get(&counts.bytes_copied) as f64 / 1e6,
            done as f64 / secs,
            get(&counts.bytes_copied) as f64 / 1e6 / secs,
        );
    }
}

/// The selected source objects, in name order, with the limits applied:
/// the first objects in name order, until the next would pass a limit (the
/// rest of the listing is then not fetched). Files left out for their name
/// are recorded where the listing meets them.
fn selected(
    storage: &Storage,
    from: &BucketUrl,
    select: Select,
    options: &SyncOptions,
    observer: Arc<dyn Observer>,
    counts: Arc<Counts>,
    not_utf8: Arc<std::sync::Mutex<NotUtf8>>,
) -> ObjectStream {
    let (max_objects, max_bytes, kept) = (
        options.max_objects,
        options.max_bytes,
        options.not_utf8_kept,
    );
    let (mut n, mut bytes) = (0u64, 0u64);
    let source = from.to_string();
    storage
        .list_entries(from)
        .filter_map(move |entry| {
            let item = match entry {
                Ok(Entry::Object(o)) => select(&o).then_some(Ok(o)),
                Ok(Entry::NotUtf8(o)) => {
                    if select(&o) {
                        tracing::warn!(
                            "{source}{} is left out: its name is not UTF-8, so it cannot be an object name; rename it",
                            o.key
                        );
                        let mut skipped = not_utf8.lock().unwrap_or_else(|e| e.into_inner());
                        skipped.count += 1;
                        if skipped.names.len() < kept {
                            skipped.names.push(o.key);
                        }
                    }
                    None
                }
                Err(e) => Some(Err(e)),
            };
            std::future::ready(item)
        })
        .take_while(move |item| {
            let go = match item {
                Ok(o) => {
                    let fits = max_objects.is_none_or(|m| n < m)
                        && max_bytes.is_none_or(|m| bytes.saturating_add(o.size) <= m);
                    if fits {
                        n += 1;
                        bytes += o.size;
                        counts.selected.fetch_add(1, Ordering::Relaxed);
                        counts.selected_bytes.fetch_add(o.size, Ordering::Relaxed);
                        observer.selected(n);
                    }
                    fits
                }
                Err(_) => true,
            };
            std::future::ready(go)
        })
        .boxed()
}

/// The destination's objects in name order; a `file://` directory that
/// does not exist yet is empty.
fn existing(storage: &Storage, to: &BucketUrl) -> ObjectStream {
    match to {
        BucketUrl::File { path } if !path.exists() => stream::empty().boxed(),
        _ => storage.list(to),
    }
}

/// Fill in checksums where sizes match (files have none until read), then
/// [`decide`] and, unless a dry run, copy.
async fn execute(
    storage: Storage,
    from: Arc<BucketUrl>,
    to: Arc<BucketUrl>,
    pair: Pair,
    overwrite_changed: bool,
    dry_run: bool,
) -> Result<(Decision, String), StorageError> {
    let Pair { source, existing } = pair;
    let (source, existing) = match existing {
        Some(existing) if existing.size == source.size => (
            storage.with_checksum(&from, source).await?,
            Some(storage.with_checksum(&to, existing).await?),
        ),
        other => (source, other),
    };
    let (decision, options) = decide(&source, existing.as_ref(), overwrite_changed);
    if decision == Decision::Conflict {
        tracing::warn!(
            object = %format!("{to}{}", source.key),
            "the destination holds a different object under this name; left alone (pass --overwrite-changed to replace it)"
        );
    }
    if let Some(options) = options
        && !dry_run
    {
        storage
            .copy(&from, &source, &to, &source.key, options)
            .await?;
    }
    Ok((decision, source.key))
}

/// Merge, decide and copy with `concurrency` in flight; returns the first
/// names copied.
#[allow(clippy::too_many_arguments)]
async fn copy_all(
    storage: &Storage,
    from: &BucketUrl,
    to: &BucketUrl,
    select: Select,
    options: &SyncOptions,
    observer: &Arc<dyn Observer>,
    counts: &Arc<Counts>,
    not_utf8: &Arc<std::sync::Mutex<NotUtf8>>,
) -> Result<Vec<String>, StorageError> {
    let source = selected(
        storage,
        from,
        select,
        options,
        Arc::clone(observer),
        Arc::clone(counts),
        Arc::clone(not_utf8),
    );
    let listing_done = {
        let counts = Arc::clone(counts);
        stream::once(async move {
            counts.listing_done.store(true, Ordering::Relaxed);
            None::<Result<Pair, StorageError>>
        })
    };
    let pairs = merge(source, existing(storage, to))
        .map(Some)
        .chain(listing_done)
        .filter_map(std::future::ready);
    let (from, to) = (Arc::new(from.clone()), Arc::new(to.clone()));
    let (overwrite, dry_run) = (options.overwrite_changed, options.dry_run);
    let work = pairs.map(move |pair| {
        let (storage, from, to) = (storage.clone(), Arc::clone(&from), Arc::clone(&to));
        async move { execute(storage, from, to, pair?, overwrite, dry_run).await }
    });
    // A dry run keeps name order so it shows the first names; a copy lets
    // a slow object not hold up the others.
    let concurrency = options.concurrency.max(1);
    let mut results: BoxStream<'_, _> = if dry_run {
        work.buffered(concurrency).boxed()
    } else {
        work.buffer_unordered(concurrency).boxed()
    };
    let mut names = Vec::new();
    while let Some(result) = results.next().await {
        let (decision, key) = result?;
        match decision {
            Decision::Copy(bytes) => {
                counts.copied.fetch_add(1, Ordering::Relaxed);
                counts.bytes_copied.fetch_add(bytes, Ordering::Relaxed);
                if names.len() < options.names_kept {
                    names.push(key.clone());
                }
            }
            Decision::Skip => {
                counts.skipped.fetch_add(1, Ordering::Relaxed);
            }
            Decision::Conflict => {
                counts.conflicts.fetch_add(1, Ordering::Relaxed);
            }
        }
        observer.decided(&key, decision);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(key: &str, size: u64, crc32c: Option<u32>, generation: Option<i64>) -> ObjectInfo {
        ObjectInfo {
            key: key.into(),
            name: key.into(),
            size,
            updated: None,
            content_type: None,
            crc32c,
            md5: None,
            generation,
        }
    }

    fn listing(objects: Vec<ObjectInfo>) -> ObjectStream {
        stream::iter(objects.into_iter().map(Ok)).boxed()
    }

    #[test]
    fn a_missing_object_is_copied_only_if_still_missing() {
        let (decision, options) = decide(&object("a", 3, Some(1), None), None, false);
        assert_eq!(decision, Decision::Copy(3));
        assert_eq!(options.unwrap().if_generation_match, Some(0));
    }

    #[test]
    fn the_same_bytes_are_skipped_and_different_ones_left_alone() {
        let source = object("a", 3, Some(1), None);
        let same = object("a", 3, Some(1), Some(7));
        let changed = object("a", 3, Some(2), Some(7));
        assert_eq!(decide(&source, Some(&same), false), (Decision::Skip, None));
        assert_eq!(decide(&source, Some(&same), true), (Decision::Skip, None));
        assert_eq!(
            decide(&source, Some(&changed), false),
            (Decision::Conflict, None)
        );
        let (decision, options) = decide(&source, Some(&changed), true);
        assert_eq!(decision, Decision::Copy(3));
        assert_eq!(
            options.unwrap().if_generation_match,
            Some(7),
            "an overwrite replaces only the generation that was compared"
        );
        let unknown = object("a", 3, None, Some(7));
        assert_eq!(
            decide(&source, Some(&unknown), false).0,
            Decision::Conflict,
            "equal sizes without a common checksum are not the same bytes"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn merge_pairs_each_source_object_with_its_namesake() {
        let source = listing(vec![
            object("a", 1, None, None),
            object("c", 1, None, None),
            object("e", 1, None, None),
        ]);
        let dest = listing(vec![
            object("b", 2, None, None),
            object("c", 2, None, None),
            object("d", 2, None, None),
            object("f", 2, None, None),
        ]);
        let pairs: Vec<Pair> = merge(source, dest).map(Result::unwrap).collect().await;
        let shown: Vec<(&str, Option<&str>)> = pairs
            .iter()
            .map(|p| {
                (
                    p.source.key.as_str(),
                    p.existing.as_ref().map(|e| e.key.as_str()),
                )
            })
            .collect();
        assert_eq!(shown, [("a", None), ("c", Some("c")), ("e", None)]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_listing_out_of_order_stops_the_merge() {
        let source = listing(vec![object("b", 1, None, None), object("a", 1, None, None)]);
        let items: Vec<_> = merge(source, listing(vec![])).collect().await;
        assert_eq!(items.len(), 2, "{items:?}");
        assert!(items[0].is_ok());
        let err = items[1].as_ref().unwrap_err();
        assert!(err.to_string().contains("not in name order"), "{err}");

        let dest = listing(vec![object("b", 1, None, None), object("b", 1, None, None)]);
        let items: Vec<_> = merge(listing(vec![object("c", 1, None, None)]), dest)
            .collect()
            .await;
        assert_eq!(items.len(), 1);
        assert!(
            items[0].is_err(),
            "a repeated destination key is out of order"
        );
    }
}
