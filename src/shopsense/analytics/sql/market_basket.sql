-- name: market_basket
-- title: {basket_label} bought together
-- question: Which {basket_label} are bought by the same customers more often than chance would predict?
-- columns: item_a, item_b (item_a < item_b), pair_baskets, support (share of baskets holding both, 0-1), confidence_a_to_b (P(b | a)), confidence_b_to_a (P(a | b)), lift (P(a and b) / (P(a) P(b)); 1 = independent), baskets_with_a, baskets_with_b, baskets (all baskets)
-- tie-break: strongest first: lift desc, then support desc, then item_a asc, item_b asc.
-- method: a basket is one customer's set of distinct {basket_label}; pairs (and, on the diagonal item_a = item_b, single items) are counted with one self-join on the customer; only pairs in at least CEIL(min_support x baskets) baskets are kept, min_support = {min_support}, computed in double precision exactly like Spark ML FPGrowth's minCount.
WITH baskets AS (
    SELECT DISTINCT customer_id, {basket_column} AS item
    FROM purchases
), totals AS (
    SELECT COUNT(DISTINCT customer_id) AS baskets FROM baskets
), pair_counts AS (
    -- item_a = item_b (the diagonal) counts the baskets holding that item: one self-join gives the pairs and
    -- the item counts (Spark computes a CTE once per reference, so a separate item count would be one more
    -- pass over the log).
    SELECT a.item AS item_a, b.item AS item_b, COUNT(*) AS pair_baskets
    FROM baskets AS a
    JOIN baskets AS b ON a.customer_id = b.customer_id AND a.item <= b.item
    GROUP BY a.item, b.item
), with_item_counts AS (
    SELECT item_a, item_b, pair_baskets,
           MAX(CASE WHEN item_a = item_b THEN pair_baskets END) OVER (PARTITION BY item_a) AS baskets_with_a,
           MAX(CASE WHEN item_a = item_b THEN pair_baskets END) OVER (PARTITION BY item_b) AS baskets_with_b
    FROM pair_counts
)
SELECT p.item_a,
       p.item_b,
       p.pair_baskets,
       p.pair_baskets / t.baskets AS support,
       p.pair_baskets / p.baskets_with_a AS confidence_a_to_b,
       p.pair_baskets / p.baskets_with_b AS confidence_b_to_a,
       (p.pair_baskets * t.baskets) / (p.baskets_with_a * p.baskets_with_b) AS lift,
       p.baskets_with_a,
       p.baskets_with_b,
       t.baskets
FROM with_item_counts AS p
CROSS JOIN totals AS t
WHERE p.item_a < p.item_b
  AND p.pair_baskets >= CEIL(CAST({min_support} AS DOUBLE) * t.baskets)
ORDER BY lift DESC, support DESC, p.item_a, p.item_b
