//! [`Registry`]: the built-in maps plus the user's own, by id.
//!
//! Built-in maps are the `devices/*.yaml` files of the workspace, embedded at build time by
//! `build.rs`. User maps are loaded at run time from, in rising precedence,
//! `~/.config/evctl/devices/` (or `$XDG_CONFIG_HOME/evctl/devices/`), the folders of the
//! `EVCTL_MAPS` path list (the first folder wins, as in `PATH`), and an explicit folder or file
//! (the CLI's `--maps`). A map replaces one of the same id loaded before it, and the registry
//! returns a [`Warning`] naming both files; it never prints.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::MapError;
use crate::load::{load_file, map_id, parse};
use crate::model::{DeviceMap, Source};

mod built_in {
    include!(concat!(env!("OUT_DIR"), "/built_in.rs"));
}

/// The SunSpec model definitions compiled in: (path, text).
pub(crate) fn sunspec_model_files() -> &'static [(&'static str, &'static str)] {
    built_in::SUNSPEC_MODELS
}

/// The environment variable holding user map folders.
pub const MAPS_ENV: &str = "EVCTL_MAPS";

/// Something a caller may want to tell the user, returned as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// A map replaced another with the same id.
    Replaced {
        /// The id.
        id: String,
        /// Where the map in use comes from.
        winner: Source,
        /// Where the replaced map came from.
        replaced: Source,
    },
    /// A folder named by `EVCTL_MAPS` does not exist.
    MissingFolder {
        /// The folder.
        path: PathBuf,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Replaced {
                id,
                winner,
                replaced,
            } => write!(
                f,
                "map `{id}` from {winner} replaces the one from {replaced}"
            ),
            Warning::MissingFolder { path } => write!(
                f,
                "{MAPS_ENV} names {}, which does not exist",
                path.display()
            ),
        }
    }
}

/// A folder of user maps that cannot be listed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A map file is broken.
    #[error(transparent)]
    Map(#[from] MapError),
    /// A folder cannot be listed.
    #[error("cannot list the map folder {}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Where user maps are looked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFolders {
    /// `~/.config/evctl/devices`, if a home or config folder is known. Skipped when missing.
    pub config: Option<PathBuf>,
    /// The `EVCTL_MAPS` folders, in the order given (the first wins).
    pub env: Vec<PathBuf>,
    /// An explicit folder or file (`--maps`); it must exist. Wins over everything.
    pub explicit: Option<PathBuf>,
}

impl UserFolders {
    /// The folders of this process's environment (`EVCTL_MAPS`, `XDG_CONFIG_HOME`, `HOME`),
    /// plus an explicit one.
    pub fn from_env(explicit: Option<PathBuf>) -> UserFolders {
        UserFolders::from_values(
            explicit,
            std::env::var_os(MAPS_ENV),
            std::env::var_os("XDG_CONFIG_HOME"),
            std::env::var_os("HOME"),
        )
    }

    /// The folders for given values of `EVCTL_MAPS`, `XDG_CONFIG_HOME` and `HOME`.
    pub fn from_values(
        explicit: Option<PathBuf>,
        maps: Option<OsString>,
        xdg_config_home: Option<OsString>,
        home: Option<OsString>,
    ) -> UserFolders {
        let config = xdg_config_home
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                home.filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".config"))
            })
            .map(|c| c.join("evctl").join("devices"));
        let env = maps
            .map(|v| {
                std::env::split_paths(&v)
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        UserFolders {
            config,
            env,
            explicit,
        }
    }
}

/// Device maps by id.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    maps: Vec<Arc<DeviceMap>>,
}

impl Registry {
    /// A registry with no maps.
    pub fn empty() -> Registry {
        Registry::default()
    }

    /// The maps compiled into the library. A broken built-in map is an error (and a failing
    /// test in this workspace, so it never ships).
    pub fn built_in() -> Result<Registry, MapError> {
        let mut registry = Registry::empty();
        for (path, text) in built_in::BUILT_IN {
            let id = map_id(Path::new(path))?;
            let map = parse(&id, Source::BuiltIn { path }, path, text)?;
            registry.insert(map);
        }
        Ok(registry)
    }

    /// Parses only the built-in map `id` (cheaper than [`Registry::built_in`] when one map is
    /// needed); `None` when there is no such built-in map.
    pub fn built_in_map(id: &str) -> Option<Result<DeviceMap, MapError>> {
        built_in::BUILT_IN
            .iter()
            .find(|(path, _)| map_id(Path::new(path)).is_ok_and(|i| i == id))
            .map(|(path, text)| parse(id, Source::BuiltIn { path }, path, text))
    }

    /// The names of the built-in map files (`devices/<id>.yaml`) and their texts.
    pub fn built_in_files() -> &'static [(&'static str, &'static str)] {
        built_in::BUILT_IN
    }

    /// The built-in maps plus the maps of `folders`, with the warnings to show.
    pub fn load(folders: &UserFolders) -> Result<(Registry, Vec<Warning>), RegistryError> {
        let mut registry = Registry::built_in()?;
        let mut warnings = Vec::new();
        if let Some(config) = &folders.config
            && config.is_dir()
        {
            warnings.extend(registry.add_path(config)?);
        }
        for dir in folders.env.iter().rev() {
            if dir.exists() {
                warnings.extend(registry.add_path(dir)?);
            } else {
                warnings.push(Warning::MissingFolder { path: dir.clone() });
            }
        }
        if let Some(explicit) = &folders.explicit {
            warnings.extend(registry.add_path(explicit)?);
        }
        Ok((registry, warnings))
    }

    /// Adds a map file, or every `*.yaml`/`*.yml` file of a folder (in name order).
    pub fn add_path(&mut self, path: &Path) -> Result<Vec<Warning>, RegistryError> {
        let metadata = std::fs::metadata(path).map_err(|source| RegistryError::Folder {
            path: path.to_owned(),
            source,
        })?;
        if !metadata.is_dir() {
            return Ok(self.add(load_file(path)?).into_iter().collect());
        }
        let entries = std::fs::read_dir(path).map_err(|source| RegistryError::Folder {
            path: path.to_owned(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        let mut warnings = Vec::new();
        for file in files {
            warnings.extend(self.add(load_file(&file)?));
        }
        Ok(warnings)
    }

    /// Adds a map, replacing one of the same id (and saying so).
    pub fn add(&mut self, map: DeviceMap) -> Option<Warning> {
        let winner = map.source.clone();
        let id = map.id.clone();
        self.insert(map).map(|replaced| Warning::Replaced {
            id,
            winner,
            replaced: replaced.source.clone(),
        })
    }

    fn insert(&mut self, map: DeviceMap) -> Option<Arc<DeviceMap>> {
        let map = Arc::new(map);
        match self.maps.binary_search_by(|m| m.id.as_str().cmp(&map.id)) {
            Ok(i) => Some(std::mem::replace(&mut self.maps[i], map)),
            Err(i) => {
                self.maps.insert(i, map);
                None
            }
        }
    }

    /// The map with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<DeviceMap>> {
        self.maps
            .binary_search_by(|m| m.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.maps[i])
    }

    /// Every map, by id.
    pub fn maps(&self) -> impl Iterator<Item = &Arc<DeviceMap>> {
        self.maps.iter()
    }

    /// Every id, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.maps.iter().map(|m| m.id.as_str())
    }

    /// The id closest to `id`, for "did you mean" hints.
    pub fn suggest(&self, id: &str) -> Option<&str> {
        crate::load::suggest(id, self.ids())
    }

    /// Number of maps.
    pub fn len(&self) -> usize {
        self.maps.len()
    }

    /// True when there are no maps.
    pub fn is_empty(&self) -> bool {
        self.maps.is_empty()
    }
}
