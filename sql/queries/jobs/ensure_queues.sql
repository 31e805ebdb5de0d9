-- The queues this client works ($1), so that their flow limits have a row to live in.
INSERT INTO /* schema */delta_queue (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING
