-- The optimistic limited claim (docs/flow-control.md): while a scope's limits are far from
-- reached, a claim of its work first takes its rows, then locks the scope's limit row and
-- checks with delta_flow_take, in the same round trip and transaction, that the limits
-- hold with those rows; when they would not, delta_flow_take raises SQLSTATE DL001, which
-- rolls the whole claim back, and the claimer takes the pessimistic path (lock first, then
-- claim what the limits leave).
--
-- delta_flow_take: the scope `scope` at `now` has `in_use` items claimed (this claim's
-- `taken` included) and the rate limiter state `tat`; returns the rate limiter's state
-- after `taken` starts (tat itself when it has no rate or nothing was taken). The rate's
-- arithmetic is the client's (src/common/flow.cpp): starts are spaced rate_per / rate_count
-- and 2% apart (at least 1 microsecond), a claim may take the starts that fall within a
-- lookahead of a tenth of a second (at least one step), and a stored state beyond what the
-- rate could have reserved is brought back within reach. `shared_rate`: another scope's
-- rate limiter spaces the same starts (a kind's and its namespace's), which only the
-- pessimistic claim spaces under both: refused when anything was taken.
CREATE FUNCTION /* schema */delta_flow_take(scope text, now timestamptz, tat timestamptz,
                                            max_concurrency integer, in_use bigint,
                                            rate_count integer, rate_per interval,
                                            taken bigint, shared_rate boolean)
  RETURNS timestamptz
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  step bigint;
  lookahead bigint;
  next_start timestamptz;
  room bigint;
BEGIN
  IF taken <= 0 THEN
    RETURN tat;
  END IF;
  IF max_concurrency IS NOT NULL AND in_use > max_concurrency THEN
    RAISE EXCEPTION 'delta: % would have % at once (at most %)', scope, in_use, max_concurrency
      USING ERRCODE = 'DL001';
  END IF;
  IF rate_count IS NULL THEN
    RETURN tat;
  END IF;
  IF shared_rate THEN
    RAISE EXCEPTION 'delta: the starts of % are spaced by a second rate limiter', scope
      USING ERRCODE = 'DL001';
  END IF;
  step := greatest(1, ((extract(epoch FROM rate_per) * 1000)::bigint * 1000) * 102 / 100
                      / greatest(1, rate_count));
  lookahead := greatest(step, 100000);
  next_start := greatest(least(coalesce(tat, now), now + (lookahead + step) * interval '1 microsecond'),
                         now);
  room := (extract(epoch FROM now + lookahead * interval '1 microsecond' - next_start)
           * 1000000)::bigint;
  IF room < 0 OR taken > least(room / step + 1, 1000000) THEN
    RAISE EXCEPTION 'delta: % would start % at once (at most % now)', scope, taken,
      CASE WHEN room < 0 THEN 0 ELSE least(room / step + 1, 1000000) END
      USING ERRCODE = 'DL001';
  END IF;
  RETURN next_start + (taken * step) * interval '1 microsecond';
END
$$;

COMMENT ON FUNCTION /* schema */delta_flow_take(text, timestamptz, timestamptz, integer, bigint,
                                                 integer, interval, bigint, boolean) IS
  'A limited scope''s rate state after an optimistic claim''s starts; raises DL001 when the claim would exceed the scope''s limits.';
