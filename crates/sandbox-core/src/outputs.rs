//! Output parameters: written one file each under the outputs directory (so
//! templates read them with `valueFrom.path`) and echoed in the JSON result.

use serde::Serialize;
use serde::ser::SerializeMap;
use std::io;
use std::path::Path;

/// The output parameters of a task, in the order they were set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs(Vec<(String, String)>);

impl Outputs {
    /// No outputs.
    pub fn new() -> Self {
        Outputs::default()
    }

    /// Set (or replace) an output. Names are snake_case identifiers; the
    /// caller controls them, so a bad name is a bug.
    pub fn set(&mut self, name: &str, value: impl ToString) -> &mut Self {
        debug_assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "output name {name:?} is not snake_case"
        );
        let value = value.to_string();
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_string(), value)),
        }
        self
    }

    /// The value of an output.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every output, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Write each output to `<dir>/<name>`, creating `dir`. Each file is
    /// written to a temporary name and renamed, so a reader never sees half
    /// a value.
    pub fn write_to(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, value) in &self.0 {
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, value)?;
            std::fs::rename(&tmp, dir.join(name))?;
        }
        Ok(())
    }
}

impl Serialize for Outputs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_keep_order_replace_in_place_and_land_as_files() {
        let mut out = Outputs::new();
        out.set("branch", "sbx-pr-1")
            .set("commit", "abc")
            .set("branch", "sbx-pr-2");
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"branch":"sbx-pr-2","commit":"abc"}"#
        );
        let dir = tempfile::tempdir().unwrap();
        out.write_to(&dir.path().join("outputs")).unwrap();
        let read = |n: &str| std::fs::read_to_string(dir.path().join("outputs").join(n)).unwrap();
        assert_eq!(
            (read("branch"), read("commit")),
            ("sbx-pr-2".to_string(), "abc".to_string())
        );
        let names: Vec<_> = std::fs::read_dir(dir.path().join("outputs"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "no temporary files left: {names:?}");
    }
}
