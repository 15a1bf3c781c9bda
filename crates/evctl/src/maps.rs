//! Finding device maps: the built-in ones and the user's folders, in the precedence the design
//! gives (`--maps` first, then `EVCTL_MAPS`, then the site config's `maps:`, then
//! `~/.config/evctl/devices/`, then the maps compiled in).
//!
//! A command that needs one map parses only that map: a user file named `<id>.yaml` if a folder
//! has one, else the built-in text. Parsing every map (`Registry::load`) costs more than the
//! whole rest of `evctl read`, so only `list` and "did you mean" suggestions do it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use device_maps::{DeviceMap, Registry, UserFolders};

use crate::report::{Usage, usage};

/// Where maps are looked for, highest precedence first.
#[derive(Debug, Clone)]
pub struct MapFolders {
    /// Folders or files, highest precedence first.
    pub paths: Vec<PathBuf>,
    /// Folders named by `EVCTL_MAPS` that do not exist (a warning, not an error).
    pub missing: Vec<PathBuf>,
}

impl MapFolders {
    /// `--maps` values, then `EVCTL_MAPS`, then the site config's folders, then the user's
    /// config folder.
    pub fn new(flags: &[PathBuf], site_maps: &[PathBuf]) -> anyhow::Result<MapFolders> {
        for path in flags {
            if !path.exists() {
                return Err(usage(format!(
                    "the map folder {} given with --maps does not exist",
                    path.display()
                )));
            }
        }
        let env = UserFolders::from_env(None);
        let mut paths: Vec<PathBuf> = flags.to_vec();
        let mut missing = Vec::new();
        for dir in &env.env {
            if dir.exists() {
                paths.push(dir.clone());
            } else {
                missing.push(dir.clone());
            }
        }
        for dir in site_maps {
            if !dir.exists() {
                return Err(usage(format!(
                    "the map folder {} named in the site config does not exist",
                    dir.display()
                )));
            }
            paths.push(dir.clone());
        }
        if let Some(config) = env.config
            && config.is_dir()
        {
            paths.push(config);
        }
        Ok(MapFolders { paths, missing })
    }

    /// Warnings about the folders themselves.
    pub fn warn(&self) {
        for dir in &self.missing {
            eprintln!(
                "warning: {} names {}, which does not exist",
                device_maps::MAPS_ENV,
                dir.display()
            );
        }
    }

    /// The map `id`, parsing only that map. `Ok(None)` when no folder and no built-in map has it.
    /// A user map file that does not load is a warning naming its file, line and column (the
    /// command goes on with the other maps); only the map asked for being broken is an error.
    pub fn find(&self, id: &str) -> anyhow::Result<Option<Arc<DeviceMap>>> {
        let own = self.paths.iter().find_map(|path| file_for(path, id));
        for (file, err) in self.broken_files() {
            if own.as_ref() != Some(&file) {
                eprintln!("warning: {}", skipped(&err));
            }
        }
        for path in &self.paths {
            if let Some(file) = file_for(path, id) {
                let map = device_maps::load_file(&file)
                    .with_context(|| Usage(format!("cannot load map `{id}`")))?;
                if is_built_in(id) {
                    eprintln!(
                        "warning: map `{id}` from {} replaces the built-in one",
                        file.display()
                    );
                }
                return Ok(Some(Arc::new(map)));
            }
        }
        match Registry::built_in_map(id) {
            Some(map) => {
                let map = map.with_context(|| format!("the built-in map `{id}` is broken"))?;
                Ok(Some(Arc::new(map)))
            }
            None => Ok(None),
        }
    }

    /// Every map: the built-in ones and every file of every folder, with the override warnings.
    pub fn registry(&self) -> anyhow::Result<(Registry, Vec<String>)> {
        let mut registry = Registry::built_in().context("a built-in map is broken")?;
        let mut warnings = Vec::new();
        for path in self.paths.iter().rev() {
            for file in map_files(path)
                .with_context(|| Usage(format!("cannot load the maps of {}", path.display())))?
            {
                match device_maps::load_file(&file) {
                    Ok(map) => warnings.extend(registry.add(map).map(|w| w.to_string())),
                    Err(err) => warnings.push(skipped(&err)),
                }
            }
        }
        Ok((registry, warnings))
    }

    /// The user map files that do not load, with why.
    fn broken_files(&self) -> Vec<(PathBuf, device_maps::MapError)> {
        self.paths
            .iter()
            .flat_map(|path| map_files(path).unwrap_or_default())
            .filter_map(|file| device_maps::load_file(&file).err().map(|e| (file, e)))
            .collect()
    }

    /// The closest known map id to `id`, for "did you mean".
    pub fn suggest(&self, id: &str) -> Option<String> {
        let (registry, _) = self.registry().ok()?;
        registry.suggest(id).map(str::to_owned)
    }
}

/// The map files of `path`: the file itself, or a folder's `.yaml` and `.yml` files in name order.
fn map_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !std::fs::metadata(path)?.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// The warning for a user map that does not load (its error names file, line and column).
fn skipped(err: &device_maps::MapError) -> String {
    let mut text = format!("skipping a broken map: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// The map file for `id` in `path` (a folder, or a single file named `<id>.yaml`).
fn file_for(path: &Path, id: &str) -> Option<PathBuf> {
    if path.is_file() {
        let stem = path.file_stem()?.to_str()?;
        return (stem == id).then(|| path.to_path_buf());
    }
    ["yaml", "yml"]
        .iter()
        .map(|ext| path.join(format!("{id}.{ext}")))
        .find(|file| file.is_file())
}

/// Whether a built-in map has this id (without parsing it).
fn is_built_in(id: &str) -> bool {
    Registry::built_in_files().iter().any(|(path, _)| {
        Path::new(path)
            .file_stem()
            .and_then(|s| s.to_str())
            .is_some_and(|stem| stem == id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_map_file_by_id_in_a_folder_or_as_a_file() {
        let dir = std::env::temp_dir().join(format!("evctl-maps-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp folder");
        let file = dir.join("my-meter.yml");
        std::fs::write(&file, "x").expect("write");
        assert_eq!(file_for(&dir, "my-meter"), Some(file.clone()));
        assert_eq!(file_for(&file, "my-meter"), Some(file.clone()));
        assert_eq!(file_for(&file, "other"), None);
        assert_eq!(file_for(&dir, "other"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn built_in_maps_are_found_without_parsing_the_others() {
        assert!(is_built_in("alfen-eve"));
        assert!(!is_built_in("alfen"));
        let folders = MapFolders {
            paths: Vec::new(),
            missing: Vec::new(),
        };
        let map = folders
            .find("vestel-evc04")
            .expect("built-in map parses")
            .expect("built-in map exists");
        assert_eq!(map.id, "vestel-evc04");
        assert!(folders.find("no-such-map").expect("not an error").is_none());
    }
}
