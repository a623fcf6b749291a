//! End to end: the real `confsync` binary, real agents on `127.0.0.1:0`, real trees in
//! temporary folders, real TLS, a real pty for the wizard. One test binary, a module per
//! area; the helpers are in [`support`].

mod support;

mod attacks;
mod auto;
mod bundles;
mod checks;
mod cli;
mod confirm;
mod decision;
mod device_specific;
mod drive;
mod effects;
mod faults;
mod history;
mod hooks;
mod in_sync;
mod independent;
mod layering;
mod limits;
mod live;
mod metadata;
mod operator;
mod packaging;
mod readme;
mod security;
mod servers;
mod status;
mod sync;
mod two_way;
mod verify;
mod wizard;
