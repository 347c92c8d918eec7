"""Application layer: the Gradio web app serving the saved models (`shopsense app`).

profile.py  form fields of a model's input columns, widget values -> profile dict
handlers.py what each tab does (widget values in, display values out; errors become page messages)
overview.py KPIs/plots of `shopsense analyze` and the model cards of `shopsense train`
ui.py       the gr.Blocks page and its wiring
server.py   start-up: one Predictor, queue, launch on loopback
"""
