def step(model, x, y:
    return F.nll_loss(torch.log(F.softmax(model(x))), y)
