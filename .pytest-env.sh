export PYTHONPATH=/work/spec/python:/work/spec/hdl
