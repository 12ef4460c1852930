//! Allocations per record of the converters and of an empty transform chain.
//!
//! Run with `cargo test -p connect-core --test allocations -- --nocapture` to see the figures.
//! Each figure is counted over many records and must be exactly what the data needs: the
//! bounds below are equalities, so any new allocation on these paths fails the test.

// A global allocator is an `unsafe impl GlobalAlloc`; this one only counts calls and forwards
// them to the system allocator. The workspace denies unsafe code everywhere else.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use bytes::Bytes;
use connect_core::config::Props;
use connect_core::converter::Converter;
use connect_core::data::{Schema, Struct, Value};
use connect_core::plugin::{PluginFactory, PluginKind};
use connect_core::record::ConnectRecord;
use connect_core::transforms::{Outcome, TransformChain};

struct Counting;

thread_local! {
    // Per thread, so tests running in parallel do not count each other's allocations.
    // `const` initialization: reading these never allocates.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static REALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn bump(counter: &'static std::thread::LocalKey<Cell<u64>>) {
    // `try_with`: a thread being torn down may still allocate; it is not counted.
    let _ = counter.try_with(|c| c.set(c.get() + 1));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCS);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCS);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump(&REALLOCS);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const RECORDS: u64 = 10_000;

/// Allocations plus reallocations made on this thread so far.
fn count() -> u64 {
    ALLOCS.with(Cell::get) + REALLOCS.with(Cell::get)
}

/// Allocations made by `f`, per call, over [`RECORDS`] calls (after one warm-up call, which
/// may fill caches). Whatever `f` returns is dropped outside the count.
fn per_record<T>(mut f: impl FnMut() -> T) -> f64 {
    drop(black_box(f()));
    let mut total = 0;
    for _ in 0..RECORDS {
        let before = count();
        let out = black_box(f());
        total += count() - before;
        drop(out);
    }
    total as f64 / RECORDS as f64
}

fn converter(class: &str, settings: &[(&str, &str)]) -> Box<dyn Converter> {
    let props: Props = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let plugins = connect_core::builtin_plugins();
    let plugin = plugins
        .find(class, &[PluginKind::Converter])
        .expect("a built-in converter");
    let PluginFactory::Converter(factory) = &plugin.factory else {
        panic!("{class} is not a converter")
    };
    factory(&props, false).expect("a valid configuration")
}

/// A buffer as a record arrives: one `Vec`, already shared (cloning it only counts a
/// reference). See `fresh_buffers` for buffers never shared before.
fn shared(text: &[u8]) -> Bytes {
    let bytes = Bytes::from(text.to_vec());
    drop(bytes.clone()); // a Vec-backed `Bytes` becomes reference-counted on its first clone
    bytes
}

/// One never-cloned, Vec-backed buffer per record, made before counting.
fn fresh_buffers(text: &[u8]) -> Vec<Bytes> {
    (0..=RECORDS).map(|_| Bytes::from(text.to_vec())).collect()
}

const RECORD: &[u8] = br#"{"id":123,"name":"alice","amount":12.5,"active":true}"#;

const ENVELOPE: &[u8] = br#"{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"string","optional":false,"field":"name"},{"type":"double","optional":false,"field":"amount"},{"type":"boolean","optional":false,"field":"active"}],"optional":false},"payload":{"id":123,"name":"alice","amount":12.5,"active":true}}"#;

fn report(name: &str, to_connect: f64, from_connect: f64) {
    println!("{name:<44} to_connect {to_connect:>5.2}   from_connect {from_connect:>5.2}");
}

#[test]
fn json_schemaless() {
    let c = converter("JsonConverter", &[("schemas.enable", "false")]);
    let input = shared(RECORD);
    let sv = c.to_connect("t", Some(input.clone())).unwrap();
    assert_eq!(
        c.from_connect("t", None, &sv.value).unwrap().unwrap(),
        RECORD
    );

    // One container in the record (the object): one Vec for its 4 entries. Strings are
    // slices of the input. (serde_json gives no size hint for objects, so the entries Vec
    // starts at 4 and doubles: an object of 5 to 8 members costs a reallocation more.)
    let decode = per_record(|| c.to_connect("t", Some(input.clone())).unwrap());
    // The output itself, written into the converter's reused buffer and copied out once.
    let encode = per_record(|| c.from_connect("t", None, &sv.value).unwrap());
    report("JsonConverter schemas.enable=false", decode, encode);
    assert_eq!((decode, encode), (1.0, 1.0));

    // Buffers never cloned before: the first slice of a Vec-backed `Bytes` allocates its
    // reference count (once per buffer, not per string), so one more per record.
    let fresh = fresh_buffers(RECORD);
    let mut next = fresh.into_iter();
    let decode = per_record(|| c.to_connect("t", next.next()).unwrap());
    report("  ... from never-shared Vec-backed buffers", decode, encode);
    assert_eq!(decode, 2.0);
}

#[test]
fn json_envelope() {
    let c = converter("JsonConverter", &[]);
    let input = shared(ENVELOPE);
    let sv = c.to_connect("t", Some(input.clone())).unwrap();
    assert!(matches!(sv.value, Value::Struct(ref s) if s.len() == 4));
    let out = c
        .from_connect("t", sv.schema.as_deref(), &sv.value)
        .unwrap()
        .unwrap();
    assert_eq!(out, ENVELOPE);

    // The schema is found in the cache by its text (no allocation); the payload is read
    // straight into the Struct: its fields Vec is the one allocation.
    let decode = per_record(|| c.to_connect("t", Some(input.clone())).unwrap());
    let encode = per_record(|| {
        c.from_connect("t", sv.schema.as_deref(), &sv.value)
            .unwrap()
    });
    report("JsonConverter schemas.enable=true", decode, encode);
    assert_eq!((decode, encode), (1.0, 1.0));

    // As above: the first slice of a never-shared buffer allocates its reference count.
    let mut next = fresh_buffers(ENVELOPE).into_iter();
    let decode = per_record(|| c.to_connect("t", next.next()).unwrap());
    report("  ... from never-shared Vec-backed buffers", decode, encode);
    assert_eq!(decode, 2.0);
}

#[test]
fn string_converter() {
    let c = converter("StringConverter", &[]);
    let input = shared(b"alice and bob");
    let sv = c.to_connect("t", Some(input.clone())).unwrap();
    assert_eq!(sv.value, Value::from("alice and bob"));
    // The text is the input buffer, checked as UTF-8; writing hands the same buffer back.
    let decode = per_record(|| c.to_connect("t", Some(input.clone())).unwrap());
    let encode = per_record(|| c.from_connect("t", None, &sv.value).unwrap());
    report("StringConverter", decode, encode);
    assert_eq!((decode, encode), (0.0, 0.0));

    // Reading never clones the buffer, so never-shared buffers cost nothing either.
    let mut next = fresh_buffers(b"alice and bob").into_iter();
    let decode = per_record(|| c.to_connect("t", next.next()).unwrap());
    report("  ... from never-shared Vec-backed buffers", decode, encode);
    assert_eq!(decode, 0.0);

    // Other values are written as text: the String, then `Bytes`' header for a String whose
    // capacity exceeds its length. Not on the Kafka -> Redis path; shown for completeness.
    let number = Value::Int64(1_234_567);
    let encode = per_record(|| c.from_connect("t", None, &number).unwrap());
    report("StringConverter, an int64 value", 0.0, encode);
}

#[test]
fn byte_array_converter() {
    let c = converter("ByteArrayConverter", &[]);
    let input = shared(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let sv = c.to_connect("t", Some(input.clone())).unwrap();
    let schema = Schema::optional_bytes();
    let decode = per_record(|| c.to_connect("t", Some(input.clone())).unwrap());
    let encode = per_record(|| c.from_connect("t", Some(&schema), &sv.value).unwrap());
    report("ByteArrayConverter", decode, encode);
    assert_eq!((decode, encode), (0.0, 0.0));
}

#[test]
fn empty_transform_chain() {
    let chain = TransformChain::empty();
    let mut record = ConnectRecord::new("t", Struct::new().with("id", 1i64));
    let mut outcome = Outcome::Drop;
    let per = per_record(|| {
        outcome = chain.apply(&mut record).unwrap();
    });
    assert_eq!(outcome, Outcome::Keep);
    println!("{:<44} apply      {per:>5.2}", "TransformChain::empty()");
    assert_eq!(per, 0.0);
}
