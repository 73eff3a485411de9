//! `Roster::resolve` sits on the hot path of every event: it must not allocate for
//! ASCII account names. An allocator that counts this thread's allocations checks it.
//! One test only in this binary, so no other test allocates on the measured thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use driftwatch::sources::roster_file;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// Counting allocations needs a global allocator, which is unsafe to implement: it only
// forwards to the system allocator.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn resolve_does_not_allocate_for_ascii_names() {
    let roster = roster_file::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/roster.csv"
    )))
    .unwrap();
    let names = [
        "anguyen@corp.example",
        "ANguyen@Corp.Example",
        "CORP\\bcarter",
        "bcarter",
        "E1009",
        "nobody@nowhere.example",
        "OTHER\\nobody",
    ];
    let mut found = 0;
    let n = allocations_during(|| {
        for name in names {
            found += usize::from(roster.resolve(name).is_some());
        }
    });
    assert_eq!(found, 5);
    assert_eq!(n, 0, "resolve allocated");
    // The counter works: a non-ASCII name takes the allocating path.
    assert!(allocations_during(|| assert!(roster.resolve("Ünknown").is_none())) > 0);
}
