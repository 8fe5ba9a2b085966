//! What the fuzz targets share: which panics count as crashes.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

thread_local! {
    static DECODING: Cell<bool> = const { Cell::new(false) };
}

/// libFuzzer's hook aborts on every panic, even one the code under test catches. Keep
/// that, except inside [`decoding`].
pub fn init() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !DECODING.get() {
            abort(info);
        }
    }));
}

/// Runs `tandem_protocol::decode` (or what calls it) on client bytes. `decode_update`
/// catches panics from yrs' update decoder by design (debug-build overflow checks in yrs'
/// varint and clock arithmetic; release builds wrap instead and get a wrong number), so a
/// panic it catches is not a crash; one that escapes still is.
pub fn decoding<T>(decode: impl FnOnce() -> T) -> T {
    DECODING.set(true);
    let result = catch_unwind(AssertUnwindSafe(decode));
    DECODING.set(false);
    match result {
        Ok(value) => value,
        Err(panic) => {
            let message = panic.downcast_ref::<String>().map(String::as_str).or(panic.downcast_ref::<&str>().copied());
            eprintln!("a panic escaped the decoder: {}", message.unwrap_or("(no message)"));
            std::process::abort()
        }
    }
}
