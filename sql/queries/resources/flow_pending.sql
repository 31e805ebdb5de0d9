-- In a limited claim, after flow_lock: resources pending now, per kind of $1 and in
-- namespace $2 (one scan of the pending rows, which every limit keeps few).
SELECT r.kind, r.namespace = $2, count(*)
FROM /* schema */delta_resource r
WHERE r.state = 'pending' AND (r.kind = ANY($1::text[]) OR r.namespace = $2)
GROUP BY 1, 2
