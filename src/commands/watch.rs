//! `flinkops watch`: choose the cluster, then run the long-running loop (`crate::watch`) on a
//! runtime of its own.

use super::CommandError;
use crate::cli::WatchArgs;
use crate::pipeline::{Connection, Threads, load_checked};

pub fn run(args: &WatchArgs) -> Result<u8, CommandError> {
    super::block_on(Threads::Workers, async {
        // The cluster is chosen once, from the specs as they are now: its identity keys the lock
        // and the ledger. A reconcile whose specs name another URL refuses to act (see
        // `watch::reconcile::Reconciler`).
        let desired = load_checked(&args.path, &args.state.state_dir).desired;
        let client = Connection::resolve(&args.connection, &desired.clusters)?.client()?;
        Ok(crate::watch::watch(args, client, &desired).await?)
    })
}
