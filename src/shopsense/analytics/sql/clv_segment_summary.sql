-- name: clv_segment_summary
-- title: Lifetime-value segments
-- question: How many customers and how much revenue does each lifetime-value segment hold?
-- columns: segment, segment_rank (5 = Champions ... 1 = At Risk), customers, customer_share (0-1), revenue (USD), revenue_share (0-1), avg_total_spend (USD per customer), avg_purchases (per customer)
-- tie-break: none needed (one row per segment); ordered by segment_rank desc. Reads the customer_lifetime_value result.
SELECT segment,
       segment_rank,
       COUNT(*) AS customers,
       ROUND(COUNT(*) / SUM(COUNT(*)) OVER (), 4) AS customer_share,
       ROUND(SUM(total_spend), 2) AS revenue,
       ROUND(SUM(total_spend) / SUM(SUM(total_spend)) OVER (), 4) AS revenue_share,
       ROUND(AVG(total_spend), 2) AS avg_total_spend,
       ROUND(AVG(purchases), 2) AS avg_purchases
FROM customer_lifetime_value
GROUP BY segment, segment_rank
ORDER BY segment_rank DESC
