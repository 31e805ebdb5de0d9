DROP FUNCTION /* schema */delta_flow_take(text, timestamptz, timestamptz, integer, bigint,
                                          integer, interval, bigint, boolean);
