-- The bytes all configurations keep, in one row kept by triggers, for the
-- quota in all (Quotas.TotalBytes): a create reads one row, not a sum
-- over every configuration.
CREATE TABLE kept_total (bytes INTEGER NOT NULL);
INSERT INTO kept_total (bytes) SELECT coalesce(sum(bytes), 0) FROM configurations;
CREATE TRIGGER kept_total_insert AFTER INSERT ON configurations
	BEGIN UPDATE kept_total SET bytes = bytes + NEW.bytes; END;
CREATE TRIGGER kept_total_update AFTER UPDATE OF bytes ON configurations WHEN NEW.bytes != OLD.bytes
	BEGIN UPDATE kept_total SET bytes = bytes + NEW.bytes - OLD.bytes; END;
CREATE TRIGGER kept_total_delete AFTER DELETE ON configurations
	BEGIN UPDATE kept_total SET bytes = bytes - OLD.bytes; END;
