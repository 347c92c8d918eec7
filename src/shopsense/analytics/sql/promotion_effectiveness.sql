-- name: promotion_effectiveness
-- title: Discounts and promo codes
-- question: How do purchases with a discount and/or a promo code compare with the no-promotion baseline in spend, rating and repeat buying?
-- columns: discount_applied, promo_code_used, purchases, purchase_share (0-1), customers (distinct), revenue (USD), avg_purchase_amount (USD), avg_review_rating, avg_previous_purchases, repeat_customer_share (share of the combination's customers with 2+ purchases in the whole log, 0-1), spend_vs_baseline (USD difference of avg_purchase_amount against no discount + no promo), rating_vs_baseline, repeat_share_vs_baseline
-- needs: discount_applied, promo_code_used, review_rating, previous_purchases
-- tie-break: none needed (one row per combination); the baseline (false, false) first. Baseline columns are empty when no purchase lacks both.
-- method: two levels, (combination, customer) then combination: customers are the rows of the first level (no
--   COUNT(DISTINCT): Spark would expand every row for it), and on the customer-partitioned log neither the first
--   level nor the per-customer window needs a shuffle (docs/benchmarks.md).
WITH per_customer AS (
    SELECT discount_applied,
           promo_code_used,
           customer_id,
           COUNT(*) AS purchases,
           SUM(purchase_amount_usd) AS revenue,
           SUM(review_rating) AS rating_total,
           SUM(previous_purchases) AS previous_total
    FROM purchases
    GROUP BY discount_applied, promo_code_used, customer_id
), with_repeat AS (
    SELECT *, SUM(purchases) OVER (PARTITION BY customer_id) > 1 AS repeat_customer
    FROM per_customer
), combinations AS (
    SELECT discount_applied,
           promo_code_used,
           CAST(SUM(purchases) AS BIGINT) AS purchases,  -- DuckDB sums BIGINTs to HUGEINT
           COUNT(*) AS customers,
           SUM(revenue) AS revenue,
           SUM(revenue) / SUM(purchases) AS avg_purchase_amount,
           SUM(rating_total) / SUM(purchases) AS avg_review_rating,
           SUM(previous_total) / SUM(purchases) AS avg_previous_purchases,
           COUNT_IF(repeat_customer) / COUNT(*) AS repeat_customer_share
    FROM with_repeat
    GROUP BY discount_applied, promo_code_used
), with_baseline AS (
    SELECT *,
           MAX(CASE WHEN NOT discount_applied AND NOT promo_code_used THEN avg_purchase_amount END) OVER ()
               AS baseline_amount,
           MAX(CASE WHEN NOT discount_applied AND NOT promo_code_used THEN avg_review_rating END) OVER ()
               AS baseline_rating,
           MAX(CASE WHEN NOT discount_applied AND NOT promo_code_used THEN repeat_customer_share END) OVER ()
               AS baseline_repeat_share
    FROM combinations
)
SELECT discount_applied,
       promo_code_used,
       purchases,
       ROUND(purchases / SUM(purchases) OVER (), 4) AS purchase_share,
       customers,
       ROUND(revenue, 2) AS revenue,
       ROUND(avg_purchase_amount, 2) AS avg_purchase_amount,
       ROUND(avg_review_rating, 2) AS avg_review_rating,
       ROUND(avg_previous_purchases, 2) AS avg_previous_purchases,
       ROUND(repeat_customer_share, 4) AS repeat_customer_share,
       ROUND(avg_purchase_amount - baseline_amount, 2) AS spend_vs_baseline,
       ROUND(avg_review_rating - baseline_rating, 2) AS rating_vs_baseline,
       ROUND(repeat_customer_share - baseline_repeat_share, 4) AS repeat_share_vs_baseline
FROM with_baseline
ORDER BY discount_applied, promo_code_used
