//! The node's side of the plug-in seam: each role a protocol asks for becomes a [`Shell`] on
//! the node's network thread, wired to the service as the role's [`RoleSpec`] says.
//!
//! ```text
//!   registry::visit(cfg.protocol) ──► P::start(setup, NodeHost) ──► role(spec, build)
//!                                                                    └► Shell::recover(..)
//!                                                                         .apply_to / .report_roles_to
//!                                                                         .start_on(network thread)
//! ```

use super::{ProtocolHandles, ServiceInbox, StartError, Stores};
use crate::config::Config;
use actix::dev::ArbiterHandle;
use actix::{Addr, Recipient};
use std::time::Duration;
use synod_core::{Core, Host, Proposing, Protocol, RoleSpec, Schema, Setup, Visitor};
use synod_messages::{ActorAddr, NodeId, Role, WireMessage};
use synod_network::Router;
use synod_runtime::{Compact, GetStatus, Propose, Read, Shell, Stop};

/// Starts the roles of the protocol a visitor is called with.
pub(crate) struct StartProtocol<'a> {
    pub cfg: &'a Config,
    pub id: NodeId,
    pub seed: u64,
    pub router: &'a Addr<Router>,
    pub stores: &'a Stores,
    pub inbox: ServiceInbox,
    pub arbiter: &'a ArbiterHandle,
}

impl Visitor for StartProtocol<'_> {
    type Output = Result<ProtocolHandles, StartError>;

    fn visit<P: Protocol>(self) -> Self::Output {
        let cfg = self.cfg;
        let section = cfg.section::<P>().map_err(StartError::Protocol)?;
        let members = cfg.members();
        let setup = Setup {
            id: self.id,
            members: &members,
            seed: self.seed,
            section: &section,
            max_batch_bytes: cfg.max_batch_bytes(),
            snapshot_chunk: cfg.storage.snapshot_chunk_bytes,
        };
        let mut host = NodeHost {
            id: self.id,
            router: self.router,
            stores: self.stores,
            inbox: self.inbox,
            arbiter: self.arbiter,
            tick: cfg.tick(),
            front: None,
            every: Vec::new(),
            propose: None,
            read: None,
            roles: Vec::new(),
            actors: Vec::new(),
            compact: Vec::new(),
        };
        P::start(&setup, &mut host)?;
        let Some(status) = host.front else {
            return Err(StartError::Protocol(format!(
                "protocol {:?} started no front role on node {} (one must tell the service who leads)",
                P::NAME,
                self.id
            )));
        };
        Ok(ProtocolHandles {
            propose: host.propose,
            status,
            every_role: host.every,
            roles: host.roles,
            actors: host.actors,
            compact: host.compact,
            read: host.read,
            snapshot_state: P::SNAPSHOT_STATE,
            log_copies: P::LOG_COPIES,
        })
    }
}

/// Gathers the shells a protocol starts on one node.
struct NodeHost<'a> {
    id: NodeId,
    router: &'a Addr<Router>,
    stores: &'a Stores,
    inbox: ServiceInbox,
    arbiter: &'a ArbiterHandle,
    tick: Duration,
    front: Option<Recipient<GetStatus>>,
    /// Every role's status, to see a storage failure in any of them.
    every: Vec<Recipient<GetStatus>>,
    propose: Option<Recipient<Propose>>,
    read: Option<Recipient<Read>>,
    roles: Vec<Role>,
    actors: Vec<Recipient<Stop>>,
    compact: Vec<Recipient<Compact>>,
}

impl NodeHost<'_> {
    /// A shell for a role of `spec`, wired to the service as the spec says, not started.
    fn shell<C, S>(
        &self,
        spec: &RoleSpec,
        build: impl Fn(S) -> C + Send + 'static,
    ) -> Result<Shell<C, S>, StartError>
    where
        C: Core + Unpin,
        C::Message: WireMessage,
        S: Schema<Op = C::Persist>,
    {
        let mut shell = Shell::recover(
            ActorAddr::new(self.id, spec.role),
            self.stores.get::<S>(spec.state),
            build,
            self.router.clone(),
            self.tick,
        )?;
        if spec.applies {
            shell = shell.apply_to(self.inbox.apply.clone());
        }
        if spec.reports {
            shell = shell.report_roles_to(self.inbox.roles.clone());
        }
        Ok(shell)
    }

    /// Keeps a started shell's addresses for the service and for stopping it.
    fn started<C, S>(&mut self, spec: &RoleSpec, shell: &Addr<Shell<C, S>>)
    where
        C: Core + Unpin,
        C::Message: WireMessage,
        S: Schema<Op = C::Persist>,
    {
        self.roles.push(spec.role);
        self.every.push(shell.clone().recipient());
        if spec.front {
            self.front = Some(shell.clone().recipient());
        }
        if spec.compacts {
            self.compact.push(shell.clone().recipient());
        }
        self.actors.push(shell.clone().recipient());
    }
}

impl Host for NodeHost<'_> {
    type Error = StartError;

    fn role<C, S>(
        &mut self,
        spec: RoleSpec,
        build: impl Fn(S) -> C + Send + 'static,
    ) -> Result<(), StartError>
    where
        C: Core + Unpin,
        C::Message: WireMessage,
        S: Schema<Op = C::Persist>,
    {
        let shell = self.shell(&spec, build)?.start_on(self.arbiter);
        self.started(&spec, &shell);
        Ok(())
    }

    fn proposing<C, S>(
        &mut self,
        spec: RoleSpec,
        build: impl Fn(S) -> C + Send + 'static,
    ) -> Result<(), StartError>
    where
        C: Proposing + Unpin,
        C::Message: WireMessage,
        S: Schema<Op = C::Persist>,
    {
        let shell = self.shell(&spec, build)?.proposing().start_on(self.arbiter);
        self.started(&spec, &shell);
        self.propose = Some(shell.clone().recipient());
        if spec.reads {
            self.read = Some(shell.recipient());
        }
        Ok(())
    }
}
