-- name: customer_lifetime_value
-- title: Customer lifetime value
-- question: Who are the most valuable customers, and which segment (Champions, Loyal, Big Spenders, Regular, At Risk) does each customer fall into?
-- columns: customer_id (one row per customer), purchases, total_spend (USD), avg_basket (USD per purchase), loyalty (highest previous_purchases reported), spend_quartile, frequency_quartile, loyalty_quartile (NTILE(4): 4 = best quarter), segment, segment_rank (5 = Champions ... 1 = At Risk)
-- needs: previous_purchases
-- tie-break: NTILE orders by the metric asc then customer_id asc, so equal values on a quartile boundary split by id; rows ordered by segment_rank desc, total_spend desc, customer_id asc.
-- segments (first rule that matches, S/F/L = spend/frequency/loyalty quartile):
--   Champions    S >= 3 AND F >= 3 AND L >= 3   (top half on every axis)
--   Loyal        F >= 3 AND L >= 3              (frequent and long-standing, lower spend)
--   Big Spenders S >= 3                         (top-half spend, not frequent/loyal)
--   At Risk      S <= 2 AND F <= 2 AND L <= 2   (bottom half on every axis)
--   Regular      everything else
-- Every rule above At Risk only asks for quartiles to be high enough, so raising a quartile never lowers the segment.
WITH customers AS (
    SELECT customer_id,
           COUNT(*) AS purchases,
           ROUND(SUM(purchase_amount_usd), 2) AS total_spend,
           ROUND(SUM(purchase_amount_usd) / COUNT(*), 2) AS avg_basket,
           MAX(previous_purchases) AS loyalty
    FROM purchases
    GROUP BY customer_id
), tiled AS (
    SELECT *,
           NTILE(4) OVER (ORDER BY total_spend, customer_id) AS spend_quartile,
           NTILE(4) OVER (ORDER BY purchases, customer_id) AS frequency_quartile,
           NTILE(4) OVER (ORDER BY loyalty, customer_id) AS loyalty_quartile
    FROM customers
), segmented AS (
    SELECT *,
           CASE
               WHEN spend_quartile >= 3 AND frequency_quartile >= 3 AND loyalty_quartile >= 3 THEN 'Champions'
               WHEN frequency_quartile >= 3 AND loyalty_quartile >= 3 THEN 'Loyal'
               WHEN spend_quartile >= 3 THEN 'Big Spenders'
               WHEN spend_quartile <= 2 AND frequency_quartile <= 2 AND loyalty_quartile <= 2 THEN 'At Risk'
               ELSE 'Regular'
           END AS segment
    FROM tiled
)
SELECT customer_id, purchases, total_spend, avg_basket, loyalty,
       spend_quartile, frequency_quartile, loyalty_quartile, segment,
       CASE segment WHEN 'Champions' THEN 5 WHEN 'Loyal' THEN 4 WHEN 'Big Spenders' THEN 3
                    WHEN 'Regular' THEN 2 ELSE 1 END AS segment_rank
FROM segmented
ORDER BY segment_rank DESC, total_spend DESC, customer_id
