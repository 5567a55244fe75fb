-- The operations panel lists dead letters newest first.
CREATE INDEX dead_letters_by_time ON dead_letters (dead_at DESC);
