//! A protocol's safety invariants, as the simulator checks them after every step of a node.
//!
//! ```text
//!   simulator: node steps ──► StepView { node, roles (cores), persisted ops, applied }
//!                                  └──► P::invariants(voters).observe(view)  Err = broken rule
//! ```
//!
//! The view hands the protocol its own types back: [`StepView::core`] and
//! [`StepView::persisted`] downcast to the core and persist types the protocol started.

use crate::Applied;
use std::any::Any;
use synod_messages::{NodeId, Role};

/// What one node did in one step.
pub struct StepView<'a> {
    /// The node.
    pub node: NodeId,
    /// Its roles' cores after the step.
    pub cores: &'a [(Role, &'a dyn Any)],
    /// What each role made durable in the step: a `Vec` of its persist ops.
    pub persisted: &'a [(Role, Box<dyn Any>)],
    /// What the node applied in the step, in order.
    pub applied: &'a [Applied],
}

impl StepView<'_> {
    /// The core playing `role`, if the node hosts it and it is a `C`.
    pub fn core<C: 'static>(&self, role: Role) -> Option<&C> {
        self.cores
            .iter()
            .find(|(r, _)| *r == role)
            .and_then(|(_, core)| core.downcast_ref::<C>())
    }

    /// Every op of type `P` that `role` persisted in the step, in order.
    pub fn persisted<P: 'static>(&self, role: Role) -> impl Iterator<Item = &P> {
        self.persisted
            .iter()
            .filter(move |(r, _)| *r == role)
            .filter_map(|(_, ops)| ops.downcast_ref::<Vec<P>>())
            .flatten()
    }
}

/// A protocol's safety invariants over a whole simulated run.
pub trait Invariants {
    /// Checks what a node just did; `Err` names the broken invariant and what broke it.
    fn observe(&mut self, step: &StepView<'_>) -> Result<(), String>;
    /// How many log positions are known decided (committed, chosen) so far.
    fn decided(&self) -> usize;
}
