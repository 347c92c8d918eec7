-- name: subscription_impact
-- title: Subscribers against non-subscribers
-- question: Do subscribers spend more, buy more often and rate higher than non-subscribers?
-- columns: subscription_status, customers (distinct), purchases, purchases_per_customer, revenue (USD), revenue_share (0-1), avg_purchase_amount (USD), spend_per_customer (USD), avg_review_rating (1-5), avg_previous_purchases, frequent_buyer_share (share of purchases by customers who state Weekly/Bi-Weekly/Fortnightly, 0-1)
-- needs: subscription_status, review_rating, previous_purchases, frequency_of_purchases
-- tie-break: none needed (one row per status); subscribers first.
SELECT subscription_status,
       COUNT(DISTINCT customer_id) AS customers,
       COUNT(*) AS purchases,
       ROUND(COUNT(*) / COUNT(DISTINCT customer_id), 2) AS purchases_per_customer,
       ROUND(SUM(purchase_amount_usd), 2) AS revenue,
       ROUND(SUM(purchase_amount_usd) / SUM(SUM(purchase_amount_usd)) OVER (), 4) AS revenue_share,
       ROUND(AVG(purchase_amount_usd), 2) AS avg_purchase_amount,
       ROUND(SUM(purchase_amount_usd) / COUNT(DISTINCT customer_id), 2) AS spend_per_customer,
       ROUND(AVG(review_rating), 2) AS avg_review_rating,
       ROUND(AVG(previous_purchases), 2) AS avg_previous_purchases,
       ROUND(AVG(CASE WHEN frequency_of_purchases IN ('Weekly', 'Bi-Weekly', 'Fortnightly') THEN 1.0 ELSE 0.0 END), 4)
           AS frequent_buyer_share
FROM purchases
GROUP BY subscription_status
ORDER BY subscription_status DESC
