-- The first night a sequence was considered by the planner, for its
-- reportable nights (YYYY-MM-DD).
ALTER TABLE sequences ADD COLUMN first_night TEXT;
