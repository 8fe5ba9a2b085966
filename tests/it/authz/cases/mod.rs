//! The table of the authorization matrix, by area, in the order the matrix runs it.

mod account;
mod comments;
mod documents;
mod workspaces;

use super::matrix::Case;

/// Every case, in the order the matrix runs them (which matters: see the first).
pub(super) fn cases() -> Vec<Case> {
    [workspaces::cases(), documents::cases(), comments::cases(), account::cases()].into_iter().flatten().collect()
}
