//! The daemon's durable state: one redb file (`<root>/engine.redb`) with a table per kind of
//! object. Values are JSON records so their schema can grow without migrations; every change
//! goes through a write transaction that commits whole or not at all.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The tables of the store. Adding one here creates it on the next open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Daemon-wide facts: engine id, schema version.
    Meta,
    Containers,
    Volumes,
    Networks,
}

impl Table {
    pub const ALL: [Table; 4] = [
        Table::Meta,
        Table::Containers,
        Table::Volumes,
        Table::Networks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::Containers => "containers",
            Table::Volumes => "volumes",
            Table::Networks => "networks",
        }
    }

    fn definition(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open state database {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: redb::DatabaseError,
    },
    #[error("cannot begin a transaction")]
    Transaction(#[source] redb::TransactionError),
    #[error("cannot open table {table}")]
    Table {
        table: &'static str,
        #[source]
        source: redb::TableError,
    },
    #[error("storage error in table {table}")]
    Storage {
        table: &'static str,
        #[source]
        source: redb::StorageError,
    },
    #[error("cannot commit a transaction")]
    Commit(#[source] redb::CommitError),
    #[error("cannot encode record {key:?} of table {table}")]
    Encode {
        table: &'static str,
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("corrupt record {key:?} in table {table}")]
    Decode {
        table: &'static str,
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Cheap to clone; all clones share one database.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

impl Store {
    /// Opens (creating) the database and every table in [`Table::ALL`].
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let store = Store { db: Arc::new(db) };
        store.update(|_txn| Ok::<_, StoreError>(()))?;
        Ok(store)
    }

    pub fn get<T: DeserializeOwned>(
        &self,
        table: Table,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let txn = self.db.begin_read().map_err(StoreError::Transaction)?;
        let t = txn
            .open_table(table.definition())
            .map_err(|source| StoreError::Table {
                table: table.name(),
                source,
            })?;
        let raw = t.get(key).map_err(storage(table))?;
        raw.map(|guard| decode(table, key, guard.value()))
            .transpose()
    }

    /// Every record of a table in key order.
    pub fn list<T: DeserializeOwned>(&self, table: Table) -> Result<Vec<(String, T)>, StoreError> {
        let txn = self.db.begin_read().map_err(StoreError::Transaction)?;
        let t = txn
            .open_table(table.definition())
            .map_err(|source| StoreError::Table {
                table: table.name(),
                source,
            })?;
        let mut out = Vec::new();
        for entry in t.iter().map_err(storage(table))? {
            let (k, v) = entry.map_err(storage(table))?;
            let key = k.value().to_owned();
            let value = decode(table, &key, v.value())?;
            out.push((key, value));
        }
        Ok(out)
    }

    pub fn count(&self, table: Table) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(StoreError::Transaction)?;
        let t = txn
            .open_table(table.definition())
            .map_err(|source| StoreError::Table {
                table: table.name(),
                source,
            })?;
        t.len().map_err(storage(table))
    }

    pub fn put<T: Serialize>(&self, table: Table, key: &str, value: &T) -> Result<(), StoreError> {
        self.update(|txn| txn.put(table, key, value))
    }

    /// Removes a record; true if it existed.
    pub fn delete(&self, table: Table, key: &str) -> Result<bool, StoreError> {
        self.update(|txn| txn.delete(table, key))
    }

    /// Runs `f` in one write transaction: everything it wrote is committed if it returns `Ok`,
    /// and nothing is if it returns `Err` (or panics). Writers are serialized; readers never
    /// wait and see either all of it or none.
    pub fn update<R, E>(&self, f: impl FnOnce(&mut Txn<'_>) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let tx = self.db.begin_write().map_err(StoreError::Transaction)?;
        let mut txn = Txn { tx: &tx };
        for table in Table::ALL {
            txn.open(table)?;
        }
        match f(&mut txn) {
            Ok(r) => {
                tx.commit().map_err(StoreError::Commit)?;
                Ok(r)
            }
            Err(e) => {
                // Dropping an uncommitted write transaction aborts it.
                drop(tx);
                Err(e)
            }
        }
    }
}

/// A write transaction handed to [`Store::update`].
pub struct Txn<'a> {
    tx: &'a redb::WriteTransaction,
}

impl Txn<'_> {
    fn open(
        &self,
        table: Table,
    ) -> Result<redb::Table<'_, &'static str, &'static [u8]>, StoreError> {
        self.tx
            .open_table(table.definition())
            .map_err(|source| StoreError::Table {
                table: table.name(),
                source,
            })
    }

    pub fn get<T: DeserializeOwned>(
        &self,
        table: Table,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let t = self.open(table)?;
        let raw = t.get(key).map_err(storage(table))?;
        raw.map(|guard| decode(table, key, guard.value()))
            .transpose()
    }

    pub fn put<T: Serialize>(
        &mut self,
        table: Table,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|source| StoreError::Encode {
            table: table.name(),
            key: key.to_owned(),
            source,
        })?;
        let mut t = self.open(table)?;
        t.insert(key, bytes.as_slice()).map_err(storage(table))?;
        Ok(())
    }

    pub fn delete(&mut self, table: Table, key: &str) -> Result<bool, StoreError> {
        let mut t = self.open(table)?;
        let old = t.remove(key).map_err(storage(table))?;
        Ok(old.is_some())
    }

    pub fn keys(&self, table: Table) -> Result<Vec<String>, StoreError> {
        let t = self.open(table)?;
        let mut out = Vec::new();
        for entry in t.iter().map_err(storage(table))? {
            let (k, _) = entry.map_err(storage(table))?;
            out.push(k.value().to_owned());
        }
        Ok(out)
    }
}

fn storage(table: Table) -> impl Fn(redb::StorageError) -> StoreError {
    move |source| StoreError::Storage {
        table: table.name(),
        source,
    }
}

fn decode<T: DeserializeOwned>(table: Table, key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Decode {
        table: table.name(),
        key: key.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Rec {
        name: String,
        n: u32,
    }

    fn rec(name: &str, n: u32) -> Rec {
        Rec {
            name: name.into(),
            n,
        }
    }

    #[derive(Debug, thiserror::Error)]
    enum TestError {
        #[error("store")]
        Store(#[from] StoreError),
        #[error("rejected")]
        Rejected,
    }

    #[test]
    fn put_get_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("engine.redb")).unwrap();
        assert_eq!(store.get::<Rec>(Table::Containers, "a").unwrap(), None);
        store.put(Table::Containers, "b", &rec("b", 2)).unwrap();
        store.put(Table::Containers, "a", &rec("a", 1)).unwrap();
        assert_eq!(
            store.get(Table::Containers, "a").unwrap(),
            Some(rec("a", 1))
        );
        let all: Vec<(String, Rec)> = store.list(Table::Containers).unwrap();
        assert_eq!(
            all.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(store.count(Table::Containers).unwrap(), 2);
        assert_eq!(store.count(Table::Meta).unwrap(), 0);
        assert!(store.delete(Table::Containers, "a").unwrap());
        assert!(!store.delete(Table::Containers, "a").unwrap());
        assert_eq!(store.count(Table::Containers).unwrap(), 1);
    }

    #[test]
    fn failed_update_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("engine.redb")).unwrap();
        store.put(Table::Meta, "k", &"before").unwrap();
        let res: Result<(), TestError> = store.update(|txn| {
            txn.put(Table::Meta, "k", &"after")?;
            txn.put(Table::Containers, "c1", &rec("c1", 1))?;
            assert_eq!(
                txn.get::<String>(Table::Meta, "k")?.as_deref(),
                Some("after")
            );
            Err(TestError::Rejected)
        });
        assert!(matches!(res, Err(TestError::Rejected)));
        assert_eq!(
            store.get::<String>(Table::Meta, "k").unwrap().as_deref(),
            Some("before")
        );
        assert_eq!(store.count(Table::Containers).unwrap(), 0);
    }

    #[test]
    fn successful_update_commits_everything_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.redb");
        {
            let store = Store::open(&path).unwrap();
            store
                .update(|txn| {
                    txn.put(Table::Containers, "c1", &rec("c1", 1))?;
                    txn.put(Table::Containers, "c2", &rec("c2", 2))?;
                    txn.put(Table::Meta, "engine-id", &"X")?;
                    assert_eq!(txn.keys(Table::Containers)?, ["c1", "c2"]);
                    Ok::<_, StoreError>(())
                })
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.count(Table::Containers).unwrap(), 2);
        assert_eq!(
            store
                .get::<String>(Table::Meta, "engine-id")
                .unwrap()
                .as_deref(),
            Some("X")
        );
    }

    #[test]
    fn readers_see_whole_transactions() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("engine.redb")).unwrap();
        let writer = store.clone();
        let handle = std::thread::spawn(move || {
            for i in 0..50u32 {
                writer
                    .update(|txn| {
                        txn.put(Table::Containers, "x", &rec("x", i))?;
                        txn.put(Table::Volumes, "x", &rec("x", i))
                    })
                    .unwrap();
            }
        });
        // Two tables read in separate transactions may differ, but each record is whole.
        for _ in 0..50 {
            if let Some(r) = store.get::<Rec>(Table::Containers, "x").unwrap() {
                assert_eq!(r.name, "x");
            }
        }
        handle.join().unwrap();
        assert_eq!(
            store.get::<Rec>(Table::Volumes, "x").unwrap(),
            Some(rec("x", 49))
        );
    }

    #[test]
    fn corrupt_record_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("engine.redb")).unwrap();
        store.put(Table::Networks, "n", &"a string").unwrap();
        let err = store.get::<Rec>(Table::Networks, "n").unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Decode {
                    table: "networks",
                    ..
                }
            ),
            "{err}"
        );
    }
}
