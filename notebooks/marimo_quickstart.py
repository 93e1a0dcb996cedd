import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full")


@app.cell
def _():
    import marimo as mo

    from infoflow_widget import InfoFlowWidget, load_model

    return InfoFlowWidget, load_model, mo


@app.cell
def _(mo):
    mo.md("""
    # Information flow in indirect-object identification (marimo)

    In *"When Mary and John went to the store, John gave a book to"* SmolLM2-135M should say **Mary**
    rather than **John**. Each arc is an edge between two token positions whose attention was dampened by
    alpha in every head of every layer: green where the connection helps `logit(' Mary') - logit(' John')`,
    red where it hurts. Move the alpha slider: the graph recomputes in the background.
    """)
    return


@app.cell
def _(load_model):
    model = load_model("smollm2-135m")  # bundled and offline
    prompt = "When Mary and John went to the store, John gave a book to"
    return prompt, model


@app.cell
def _(InfoFlowWidget, prompt, mo, model):
    flow = mo.ui.anywidget(
        InfoFlowWidget(model, prompt, answer=" Mary", distractor=" John", intervention="dampen", alpha=0.5, top_k=12)
    )
    flow
    return (flow,)


@app.cell
def _(flow, mo):
    # marimo re-runs this cell whenever the browser changes one of the widget's traits (the slider, a menu, a
    # click). The graph itself arrives later, from the widget's background thread, which re-runs nothing:
    # wait() blocks this cell until the graph of the new parameters is on show.
    graph = flow.wait(timeout=300)
    mo.vstack(
        [
            mo.md(f"**Strongest edges** at {flow.intervention}, alpha = {flow.alpha:g} ({flow.status})"),
            graph.top(5).to_pandas(),
        ]
    )
    return


if __name__ == "__main__":
    app.run()
