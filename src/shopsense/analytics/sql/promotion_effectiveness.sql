-- name: promotion_effectiveness
-- question: How do purchases with a discount and/or a promo code compare with the no-promotion baseline in spend, rating and repeat buying?
-- columns: discount_applied, promo_code_used, purchases, purchase_share (0-1), customers (distinct), revenue (USD), avg_purchase_amount (USD), avg_review_rating, avg_previous_purchases, repeat_customer_share (share of the combination's customers with 2+ purchases in the whole log, 0-1), spend_vs_baseline (USD difference of avg_purchase_amount against no discount + no promo), rating_vs_baseline, repeat_share_vs_baseline
-- tie-break: none needed (one row per combination); the baseline (false, false) first. Baseline columns are empty when no purchase lacks both.
WITH customer_purchases AS (
    SELECT customer_id, COUNT(*) AS customer_purchase_count
    FROM purchases
    GROUP BY customer_id
), combinations AS (
    SELECT p.discount_applied,
           p.promo_code_used,
           COUNT(*) AS purchases,
           COUNT(DISTINCT p.customer_id) AS customers,
           SUM(p.purchase_amount_usd) AS revenue,
           AVG(p.purchase_amount_usd) AS avg_purchase_amount,
           AVG(p.review_rating) AS avg_review_rating,
           AVG(p.previous_purchases) AS avg_previous_purchases,
           COUNT(DISTINCT CASE WHEN c.customer_purchase_count > 1 THEN p.customer_id END)
               / COUNT(DISTINCT p.customer_id) AS repeat_customer_share
    FROM purchases AS p
    JOIN customer_purchases AS c ON p.customer_id = c.customer_id
    GROUP BY p.discount_applied, p.promo_code_used
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
