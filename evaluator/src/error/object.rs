//! The top level of every strict text is an object where the type is a struct.
//!
//! serde's derived readers take a struct from a JSON object and also from an array of its
//! fields in declaration order (`["order-1", {…}, …]`): a form no contract of ours documents,
//! which would make field order part of every API. [`TopLevel`] wraps serde_json's reader and
//! refuses that array at the top level, with serde's own message for a value of the wrong type
//! (`invalid type: sequence, expected struct …`). Only the top level: refusing it at every
//! depth needs a reader wrapped around every nested value, the cost that DESIGN.md §6 ("One
//! strict reader") removed.

use serde::de::{self, Deserializer, Visitor};

/// A deserializer that passes everything to `D`, except that a struct must be an object: when
/// the text is an array (`array`), a struct is refused before anything is read, so the refusal
/// names the top level (`$`).
pub(super) struct TopLevel<D> {
    pub de: D,
    pub array: bool,
}

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
                self.de.$method($($arg,)* visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for TopLevel<D> {
    type Error = D::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        if self.array {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &visitor));
        }
        self.de.deserialize_struct(name, fields, visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }

    forward! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }
}

/// Reads a `T` from `de`, the reader of `bytes`, with [`TopLevel`]'s rule.
pub(super) fn read<'de, T: serde::Deserialize<'de>, D: Deserializer<'de>>(
    bytes: &[u8],
    de: D,
) -> Result<T, D::Error> {
    let first = bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    T::deserialize(TopLevel {
        de,
        array: first == Some(&b'['),
    })
}
