-- The text index moves out of the hub's database into a file of its own
-- (`<db>-search`, store/text_index.rs), filled by a thread of its own
-- instead of by a trigger on every insert: FTS5 writes a new segment, and
-- merges older ones, at every commit that touched it, which cost more than
-- everything else a proposal writes together and held every write behind
-- it. The new index is built from the actions on first start.
DROP TRIGGER actions_fts_insert;
DROP TRIGGER actions_fts_delete;
DROP TRIGGER actions_fts_update;
DROP TABLE actions_fts;
