//! TypeScript declarations from Rust: a TypeScript front end typed against a Rust server, with
//! the Rust trait as the one source of truth.
//!
//! `#[rpc_interface(typescript)]` makes the generated client implement [`TypeScript`] as an
//! `interface Foo extends RpcTarget` (imported from npm `capnweb`); `#[derive(TypeScript)]`
//! gives the user's own serde types their TypeScript form, following their serde attributes.
//! [`Declarations`] collects the interfaces asked for and every type they use, each once, and
//! writes the module:
//!
//! ```
//! use capnweb::typescript::{Declarations, TypeScript};
//! use capnweb::{rpc_interface, RpcError};
//!
//! #[derive(serde::Serialize, serde::Deserialize, TypeScript)]
//! #[serde(rename_all = "camelCase")]
//! pub struct User {
//!     /// Unique.
//!     pub user_id: u64,
//!     pub nickname: Option<String>,
//! }
//!
//! #[rpc_interface(typescript)]
//! pub trait Users {
//!     /// The user with this id.
//!     async fn get(&self, id: u64) -> Result<User, RpcError>;
//! }
//!
//! let module = Declarations::new().with::<UsersClient>().module()?;
//! assert!(module.contains("export interface Users extends RpcTarget {"));
//! assert!(module.contains("  get(id: number): User;"));
//! assert!(module.contains("  userId: number;"));
//! assert!(module.contains("  nickname: string | null;"));
//! # Ok::<(), capnweb::typescript::DeclarationError>(())
//! ```
//!
//! A TypeScript program then calls the server typed, pipelining included:
//! `newWebSocketRpcSession<Users>(url).get(1)`.
//!
//! How Rust types appear: every integer and float is a `number` (they travel as numbers;
//! `i128` and `u128` beyond 64 bits as a `bigint`), `Option<T>` is `T | null`, [`JsOption<T>`]
//! `T | null | undefined`, sequences are arrays, tuples are tuples, maps with string keys are
//! `Record<string, V>`, [`Value`] is `unknown`, [`Date`], [`Bytes`] (`Uint8Array`), [`BigInt`]
//! (`bigint`), [`ErrorValue`] (`Error`), streams and [`Blob`] are themselves, a
//! [`Callback<A, R>`] is `(arg: A) => R | Promise<R>`, and a generated client is a stub of its
//! interface, `RpcStub<Foo>` (so that a TypeScript caller can pass a stub or a promise of one
//! where a capability is expected, and gets a pipelining promise where one is returned). A
//! flattened map's values are `unknown`: TypeScript cannot type "the other keys".
//!
//! [`JsOption<T>`]: crate::JsOption
//! [`Value`]: crate::Value
//! [`Date`]: crate::Date
//! [`Bytes`]: crate::Bytes
//! [`BigInt`]: crate::BigInt
//! [`ErrorValue`]: crate::ErrorValue
//! [`Blob`]: crate::Blob
//! [`Callback<A, R>`]: crate::Callback

mod impls;
mod text;

use std::collections::{BTreeMap, BTreeSet};

pub use impls::MapKey;
pub use text::{
    alias, flattened, group, inline_object, interface, intersection, jsdoc, object_interface,
    property_name, string_literal, union, Field, Member, MethodParam,
};

/// Derives [`TypeScript`](trait@TypeScript) for a serde struct or enum: its TypeScript form as
/// serde writes it, honouring `rename`, `rename_all`, `rename_all_fields`, `skip`,
/// `skip_serializing_if` and `default` (optional members), `tag`, `content`, `untagged`,
/// `transparent` and `flatten` (an intersection). Doc comments become JSDoc.
///
/// `#[ts(rename = "Name")]` on the type names it in TypeScript; `#[ts(type = "...")]` on a field
/// gives its TypeScript type by hand (for a field with `#[serde(with = ...)]`, say);
/// `#[ts(crate = "...")]` names a renamed `capnweb` dependency. Generic types are not supported.
pub use capnweb_macros::TypeScript;

/// A Rust type's TypeScript form.
///
/// Implemented for the types that can cross (see the [module](self) documentation), derived
/// for your own serde types with `#[derive(TypeScript)]`, and generated for the clients of
/// `#[rpc_interface(typescript)]` traits.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no TypeScript form",
    label = "no `capnweb::typescript::TypeScript` for this type",
    note = "derive `capnweb::typescript::TypeScript` for your own types (it follows their serde attributes), declare another interface with #[rpc_interface(typescript)], and use maps with string keys"
)]
pub trait TypeScript {
    /// The type as written where it is used (`number`, `Array<User>`, `User`), declaring in
    /// `declarations` every named type it needs.
    fn typescript(declarations: &mut Declarations) -> String;
}

/// The named TypeScript declarations of a module, each once, written in the order of their
/// names.
#[derive(Debug, Default)]
pub struct Declarations {
    named: BTreeMap<String, Declared>,
    imports: BTreeSet<&'static str>,
    clashes: Vec<DeclarationError>,
}

#[derive(Debug)]
struct Declared {
    /// The Rust type it was declared for.
    rust: &'static str,
    /// Its text; `None` while it is being written (a type that refers to itself).
    text: Option<String>,
}

/// Why [`Declarations::module`] could not write the module.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DeclarationError {
    /// Two Rust types have the same TypeScript name.
    #[error("two Rust types are named `{name}` in TypeScript: `{first}` and `{second}` (rename one with #[ts(rename = \"...\")])")]
    NameClash {
        /// The TypeScript name.
        name: String,
        /// The Rust type declared first under it.
        first: &'static str,
        /// The other one.
        second: &'static str,
    },
}

impl Declarations {
    /// No declarations yet.
    pub fn new() -> Declarations {
        Declarations::default()
    }

    /// Adds `T` and everything it refers to (for an interface: its methods' parameter and
    /// result types).
    pub fn with<T: TypeScript + ?Sized>(mut self) -> Declarations {
        self.add::<T>();
        self
    }

    /// Adds `T` and everything it refers to; returns how `T` is written.
    pub fn add<T: TypeScript + ?Sized>(&mut self) -> String {
        T::typescript(self)
    }

    /// Declares the named type `name` for the Rust type `R`, written by `text` (which may
    /// declare what it refers to), once: later calls only give the name back. For `TypeScript`
    /// impls.
    pub fn declare<R: ?Sized>(
        &mut self,
        name: &str,
        text: impl FnOnce(&mut Declarations) -> String,
    ) -> String {
        let rust = std::any::type_name::<R>();
        if let Some(existing) = self.named.get(name) {
            if existing.rust != rust {
                self.clashes.push(DeclarationError::NameClash {
                    name: name.to_owned(),
                    first: existing.rust,
                    second: rust,
                });
            }
            return name.to_owned();
        }
        self.named
            .insert(name.to_owned(), Declared { rust, text: None });
        let written = text(self);
        if let Some(declared) = self.named.get_mut(name) {
            declared.text = Some(written);
        }
        name.to_owned()
    }

    /// Notes that the module uses `name`, a type exported by npm `capnweb` (`RpcTarget`,
    /// `RpcStub`): it is imported.
    pub fn import(&mut self, name: &'static str) {
        self.imports.insert(name);
    }

    /// The module: a header, the import of what it needs from `capnweb`, and every declaration
    /// exported, in the order of their names.
    pub fn module(&self) -> Result<String, DeclarationError> {
        if let Some(clash) = self.clashes.first() {
            return Err(clash.clone());
        }
        let mut out =
            String::from("// Generated from Rust declarations by capnweb-rpc: do not edit.\n");
        if !self.imports.is_empty() {
            let names: Vec<&str> = self.imports.iter().copied().collect();
            out.push_str(&format!(
                "import type {{ {} }} from \"capnweb\";\n",
                names.join(", ")
            ));
        }
        for declared in self.named.values() {
            out.push('\n');
            out.push_str(declared.text.as_deref().unwrap_or_default());
            out.push('\n');
        }
        Ok(out)
    }
}
