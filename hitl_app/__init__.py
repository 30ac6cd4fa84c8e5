"""The Streamlit side of hitl: session keys, shared resources and chart builders."""
