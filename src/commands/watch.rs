//! `flinkops watch`: choose the cluster, then run the long-running loop (`crate::watch`) on a
//! runtime of its own.

use super::CommandError;
use crate::cli::WatchArgs;
use crate::pipeline::fleet::{check_cluster_name, members};
use crate::pipeline::{Connection, Threads, load_checked};
use crate::watch::Start;
use crate::watch::reconcile::Fleet;

pub fn run(args: &WatchArgs) -> Result<u8, CommandError> {
    super::block_on(Threads::Workers, async {
        // The cluster is chosen once, from the specs as they are now: its identity keys the lock
        // and the ledger. A reconcile whose specs name another URL refuses to act (see
        // `watch::reconcile::Reconciler`). Over several cluster documents each tick runs apply's fleet path, each cluster under
        // its own lock and ledger (see `watch::reconcile::Fleet`).
        let desired = load_checked(&args.path, &args.state.state_dir).desired;
        let start = if desired.clusters.len() > 1 {
            let members = members(&args.connection, &desired.clusters)?;
            check_cluster_name(&members, args.state.cluster_name.as_deref())?;
            let fleet = Fleet::start(&args.connection, &members);
            Start::Fleet(fleet)
        } else {
            Start::One(Connection::resolve(&args.connection, &desired.clusters)?.client()?)
        };
        Ok(crate::watch::watch(args, start, &desired).await?)
    })
}
